// Time ranges as the API takes them: DateTimes with a zone (UTC), months as YYYY-MM.

const YEARS_BACK = 5; // the default range: from January five years ago to this month

function utc(year, monthIndex) {
  return new Date(Date.UTC(year, monthIndex, 1)).toISOString().replace(".000Z", "Z");
}

function parts(yearMonth) {
  const [year, month] = String(yearMonth).split("-").map(Number);
  return [year, month - 1];
}

export function thisMonth() {
  return new Date().toISOString().slice(0, 7);
}

export function today() {
  return new Date().toISOString().slice(0, 10);
}

export function defaultSince() {
  return `${new Date().getUTCFullYear() - YEARS_BACK}-01`;
}

export function defaultFromYear() {
  return String(new Date().getUTCFullYear() - YEARS_BACK);
}

// "2021-06" -> "2021-06-01T00:00:00Z"
export function monthStart(yearMonth) {
  const [year, month] = parts(yearMonth);
  return utc(year, month);
}

// "2021-06" -> "2021-07-01T00:00:00Z": a range's end, the month itself included.
export function monthEnd(yearMonth) {
  const [year, month] = parts(yearMonth);
  return utc(year, month + 1);
}

// Calendar years from `from` to this one, each [1 January, next 1 January).
export function years(from, most) {
  const last = new Date().getUTCFullYear();
  const first = Math.max(Number(from) || last, last - most + 1);
  return Array.from({ length: last - first + 1 }, (_, index) => {
    const year = first + index;
    return { label: String(year), since: utc(year, 0), until: utc(year + 1, 0) };
  });
}

// The last `count` calendar months, this one included.
export function lastMonths(count) {
  const now = new Date();
  return Array.from({ length: count }, (_, index) => {
    const month = now.getUTCMonth() - (count - 1 - index);
    const since = utc(now.getUTCFullYear(), month);
    return { label: since.slice(0, 7), since, until: utc(now.getUTCFullYear(), month + 1) };
  });
}
