// The public GraphQL API over HTTP: POST /graphql with the key kept in this tab's session
// storage (the same entry GraphiQL uses), sent as `Authorization: Bearer <key>`.

const STORE = "corridor.apiKey";

export function apiKey() {
  return window.sessionStorage.getItem(STORE) || "";
}

export function keepKey(value) {
  window.sessionStorage.setItem(STORE, value);
}

export function forgetKey() {
  window.sessionStorage.removeItem(STORE);
}

// GraphQL errors (or an HTTP refusal, which the API words the same way): each with its
// message and extensions.code, shown as they came.
export class ApiError extends Error {
  constructor(errors, status) {
    super(errors.map((error) => error.message).join(" "));
    this.errors = errors;
    this.status = status;
  }

  get codes() {
    return this.errors.map((error) => errorCode(error));
  }
}

export function errorCode(error) {
  return (error.extensions && error.extensions.code) || error.code || "ERROR";
}

function trouble(message, code, status) {
  return new ApiError([{ message, extensions: { code } }], status);
}

async function post(document, variables) {
  const headers = { "Content-Type": "application/json", Accept: "application/json" };
  if (apiKey()) {
    headers.Authorization = `Bearer ${apiKey()}`;
  }
  try {
    return await fetch("/graphql", { method: "POST", headers, body: JSON.stringify({ query: document, variables }) });
  } catch (error) {
    throw trouble(`The service did not answer (${error.message}).`, "UNREACHABLE", 0);
  }
}

// The data of a query; any GraphQL error (or refusal) is thrown as an ApiError.
export async function query(document, variables = {}) {
  const response = await post(document, variables);
  let body;
  try {
    body = await response.json();
  } catch {
    throw trouble(`HTTP ${response.status}: the answer was not JSON.`, "BAD_RESPONSE", response.status);
  }
  if (Array.isArray(body.errors) && body.errors.length) {
    throw new ApiError(body.errors, response.status);
  }
  return body.data;
}

// A mutation's payload (`errors { code message field }` inside it is the caller's to show).
export async function mutate(document, variables, field) {
  const data = await query(document, variables);
  return data[field];
}

export const VIEWER = "{ viewer { role institution { bic name } } }";

// Reference data, asked for once per page load (a failed answer is asked for again).
const answers = new Map();

export function queryOnce(document) {
  if (!answers.has(document)) {
    answers.set(
      document,
      query(document).catch((error) => {
        answers.delete(document);
        throw error;
      }),
    );
  }
  return answers.get(document);
}

export const COUNTRIES = "{ countries { code name currency { code } } }";

// Countries as a select's choices, [code, "Name (CODE)"], in the order of their names.
export function countryChoices(countries) {
  return [...countries]
    .sort((a, b) => a.name.localeCompare(b.name, "en"))
    .map((country) => [country.code, `${country.name} (${country.code})`]);
}
