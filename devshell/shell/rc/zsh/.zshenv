# devshell's zsh: ZDOTDIR points here, so zsh reads this directory's files
# instead of the user's. A pure shell (-d) reads nothing else; an inherit shell
# reads the user's .zshenv here and their .zshrc from .zshrc.
if [[ "${DEVSHELL_ISOLATION:-}" == inherit && -f "${DEVSHELL_USER_ZDOTDIR:-$HOME}/.zshenv" ]]; then
  __devshell_zdotdir=$ZDOTDIR
  source "${DEVSHELL_USER_ZDOTDIR:-$HOME}/.zshenv"
  # A .zshenv often moves ZDOTDIR (to ~/.config/zsh, say): the user's .zshrc
  # lives there, but zsh must still come back here for devshell's .zshrc.
  if [[ "$ZDOTDIR" != "$__devshell_zdotdir" ]]; then
    export DEVSHELL_USER_ZDOTDIR=$ZDOTDIR
    export ZDOTDIR=$__devshell_zdotdir
  fi
  unset __devshell_zdotdir
fi
