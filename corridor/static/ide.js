// Corridor's GraphiQL: the API key is asked for once, kept in this tab's session
// storage, and sent as `Authorization: Bearer <key>` with every request. Nothing is
// loaded from outside the service.
(function () {
  "use strict";
  var STORE = "corridor.apiKey";
  var input = document.getElementById("key");
  var state = document.getElementById("key-state");

  function key() {
    return window.sessionStorage.getItem(STORE) || "";
  }

  function say(text) {
    state.textContent = text;
  }

  document.getElementById("key-bar").addEventListener("submit", function (event) {
    event.preventDefault();
    var value = input.value.trim();
    if (!value) {
      say("Paste an API key (corridor apikey --role OPERATOR --label me prints one).");
      return;
    }
    window.sessionStorage.setItem(STORE, value);
    window.location.reload(); // GraphiQL reads the schema again, with the key
  });

  document.getElementById("forget-key").addEventListener("click", function () {
    window.sessionStorage.removeItem(STORE);
    window.location.reload();
  });

  function fetcher(params) {
    var headers = { "Content-Type": "application/json", Accept: "application/json" };
    if (key()) {
      headers.Authorization = "Bearer " + key();
    }
    return fetch("/graphql", { method: "POST", headers: headers, body: JSON.stringify(params) }).then(
      function (response) {
        return response.json();
      }
    );
  }

  input.value = key();
  say(key() ? "Key in use for this tab." : "No key yet: queries answer 401 until you use one.");
  var plugins = [window.GraphiQLPluginExplorer.explorerPlugin()];
  var root = window.ReactDOM.createRoot(document.getElementById("graphiql"));
  root.render(
    window.React.createElement(window.GraphiQL, {
      fetcher: fetcher,
      plugins: plugins,
      defaultQuery: "# Use a key above, then run:\n{ viewer { role institution { bic } } }\n",
    })
  );
})();
