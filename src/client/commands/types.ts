export interface GlobalOptions {
  hosts?: string;
  config?: string;
  json: boolean;
}

/** What a command hands back to the one place that exits. */
export interface CommandResult {
  exitCode: number;
}
