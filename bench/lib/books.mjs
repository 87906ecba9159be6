// Books for benchmarks: valid as POST /books wants them, distinct per user (title and ISBN), and
// the same rows whether they are sent to the API or written by COPY.

const GENRES = ['Fiction', 'History', 'Science', 'Poetry', 'Biography', 'Travel'];
// ISBNs of one user never run into the next user's, for up to a million books each.
const ISBNS_PER_USER = 1_000_000;

/** ISBN-13 (978 prefix) with a valid check digit, so the books look like real input; distinct for each n < 10^9. */
export function isbn13(n) {
  const digits = `978${String(n).padStart(9, '0')}`;
  const sum = [...digits].reduce((acc, d, i) => acc + Number(d) * (i % 2 ? 3 : 1), 0);
  return digits + ((10 - (sum % 10)) % 10);
}

/** Book `i` of user number `user`. */
export function benchBook(user, i) {
  return {
    title: `Bulk Benchmark Volume ${user}-${i}`,
    author: `Author ${i % 97}`,
    isbn: isbn13(user * ISBNS_PER_USER + i + 1),
    publishedYear: 1900 + (i % 120),
    genre: GENRES[i % GENRES.length],
  };
}

const COPY_ESCAPES = { '\\': '\\\\', '\t': '\\t', '\n': '\\n', '\r': '\\r' };

/** One line of COPY's text format: tab-separated, backslash and line breaks escaped, \N for null. */
export function copyLine(values) {
  const field = (value) => (value === null || value === undefined ? '\\N' : String(value).replace(/[\\\t\n\r]/g, (c) => COPY_ESCAPES[c]));
  return `${values.map(field).join('\t')}\n`;
}
