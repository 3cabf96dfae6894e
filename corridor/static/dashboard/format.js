// How figures read: money and other Decimals stay the API's strings, digits grouped and
// every decimal kept (never through a float); shares (Floats in the API) as percents.

const DECIMAL = /^(-?)(\d+)(\.\d+)?$/;

export function groupDigits(text) {
  const match = DECIMAL.exec(String(text));
  if (!match) {
    return String(text); // not a plain decimal: shown exactly as it came
  }
  const [, sign, whole, fraction = ""] = match;
  return sign + whole.replace(/\B(?=(\d{3})+(?!\d))/g, ",") + fraction;
}

export function money(value) {
  return value ? `${groupDigits(value.amount)} ${value.currency}` : "—";
}

export function decimal(text, unit = "") {
  if (text === null || text === undefined) {
    return "—";
  }
  return unit ? `${groupDigits(text)} ${unit}` : groupDigits(text);
}

const PERCENT = new Intl.NumberFormat("en", { style: "percent", maximumFractionDigits: 2 });

export function percent(share) {
  return share === null || share === undefined ? "—" : PERCENT.format(share);
}

// "2026-12-02T21:10:24.884657+00:00" -> "2026-12-02 21:10:24 UTC"
export function when(iso) {
  if (!iso) {
    return "—";
  }
  const time = new Date(iso);
  return Number.isNaN(time.getTime()) ? iso : time.toISOString().slice(0, 19).replace("T", " ") + " UTC";
}

export function day(iso) {
  return iso ? String(iso).slice(0, 10) : "—";
}

export function month(iso) {
  return String(iso).slice(0, 7);
}

// The exact sum of Decimal strings, through integers (BigInt) scaled to the most places.
export function sumDecimals(values) {
  const places = Math.max(0, ...values.map((value) => (String(value).split(".")[1] || "").length));
  const total = values.reduce((sum, value) => sum + scaled(String(value), places), 0n);
  return unscaled(total, places);
}

function scaled(text, places) {
  const negative = text.startsWith("-");
  const [whole, fraction = ""] = text.replace(/^[-+]/, "").split(".");
  const units = BigInt(whole + fraction.padEnd(places, "0"));
  return negative ? -units : units;
}

function unscaled(units, places) {
  const negative = units < 0n;
  const digits = (negative ? -units : units).toString().padStart(places + 1, "0");
  const whole = digits.slice(0, digits.length - places);
  const fraction = places ? "." + digits.slice(digits.length - places) : "";
  return (negative ? "-" : "") + whole + fraction;
}

// A UUID as people compare them: its first block.
export function shortId(uuid) {
  return String(uuid).split("-")[0];
}
