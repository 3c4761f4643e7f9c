/**
 * The scripts `herd completion SHELL` prints: each asks herd itself for candidates
 * (`herd --get-yargs-completions WORDS…`), so they follow the installed version's commands,
 * flags, hosts and jobs.
 */
export const SHELLS = ['bash', 'zsh', 'fish'] as const;
export type Shell = (typeof SHELLS)[number];

const BASH = `# herd completion for bash: source it, or put it in ~/.local/share/bash-completion/completions/herd
_herd_complete() {
  local cur words
  cur="\${COMP_WORDS[COMP_CWORD]}"
  words=("\${COMP_WORDS[@]:0:COMP_CWORD+1}")
  local IFS=$'\\n'
  COMPREPLY=($(herd --get-yargs-completions "\${words[@]}" 2>/dev/null))
  # Nothing from herd (a command's own arguments after --): the shell's file names.
  if [ \${#COMPREPLY[@]} -eq 0 ]; then COMPREPLY=($(compgen -f -- "$cur")); fi
}
complete -o default -F _herd_complete herd
`;

const ZSH = `#compdef herd
# herd completion for zsh: source it, or put it as _herd in a directory of $fpath
_herd() {
  local -a candidates
  candidates=("\${(@f)$(herd --get-yargs-completions "\${words[@]:0:$CURRENT}" 2>/dev/null)}")
  if [ -n "\${candidates[*]}" ]; then compadd -- $candidates; else _files; fi
}
compdef _herd herd
`;

const FISH = `# herd completion for fish: put it in ~/.config/fish/completions/herd.fish
function __herd_complete
  set -l words (commandline -opc) (commandline -ct)
  herd --get-yargs-completions $words 2>/dev/null
end
complete -c herd -f -a '(__herd_complete)'
`;

export function completionScript(shell: Shell): string {
  return shell === 'bash' ? BASH : shell === 'zsh' ? ZSH : FISH;
}
