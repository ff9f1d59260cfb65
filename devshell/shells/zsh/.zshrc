# devshell's zsh start-up file. A pure shell reads only this; an inherit
# shell reads the user's .zshrc first, then this.
if [[ "${DEVSHELL_ISOLATION:-}" == inherit ]]; then
  if [[ -f "${DEVSHELL_USER_ZDOTDIR:-$HOME}/.zshrc" ]]; then
    source "${DEVSHELL_USER_ZDOTDIR:-$HOME}/.zshrc"
  fi
  path=("$DEVSHELL_PROFILE/bin" $path)
fi
# Give nested zsh processes the user's own start-up directory back.
if [[ -n "${DEVSHELL_USER_ZDOTDIR:-}" ]]; then
  export ZDOTDIR="$DEVSHELL_USER_ZDOTDIR"
else
  unset ZDOTDIR
fi
unset DEVSHELL_USER_ZDOTDIR
PROMPT="(devshell:${DEVSHELL_NAME}) ${PROMPT:-%n@%m:%~%# }"
