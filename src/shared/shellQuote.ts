/** POSIX sh single quoting: the word reaches the command exactly, whatever it holds. */
export function shellQuote(word: string): string {
  return `'${word.replace(/'/g, `'\\''`)}'`;
}
