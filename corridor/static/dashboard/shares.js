// Currency shares as the Overview and Corridors pages show them: the fields asked of a
// CurrencyShare and the table's columns (values as the API words them, never floats).

import { groupDigits, money, percent } from "./format.js";

export const SHARE_FIELDS = "currency value { amount currency } share paymentCount unconverted { amount currency }";

export const SHARE_COLUMNS = [
  { label: "Currency", cell: (row) => row.currency },
  { label: "Payments", cell: (row) => groupDigits(row.paymentCount), numeric: true },
  { label: "Value", cell: (row) => money(row.value), numeric: true },
  { label: "Share", cell: (row) => percent(row.share), numeric: true },
  { label: "Not converted", cell: (row) => (row.unconverted ? money(row.unconverted) : ""), numeric: true },
];
