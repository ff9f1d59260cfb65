# devshell's zsh: read the user's .zshenv only in an inherit shell.
if [[ "${DEVSHELL_ISOLATION:-}" == inherit && -f "${DEVSHELL_USER_ZDOTDIR:-$HOME}/.zshenv" ]]; then
  source "${DEVSHELL_USER_ZDOTDIR:-$HOME}/.zshenv"
fi
