/** Whether output goes to a terminal (escaping, colour and progress lines are for terminals only). */
export function isTerminal(stream: unknown): boolean {
  return (stream as { isTTY?: boolean }).isTTY === true;
}
