# devshell's zsh start-up file. A pure shell reads only this; an inherit
# shell reads the user's .zshrc first, then the rest of this.
if [[ "${DEVSHELL_ISOLATION:-}" == inherit ]]; then
  if [[ -f "${DEVSHELL_USER_ZDOTDIR:-$HOME}/.zshrc" ]]; then
    source "${DEVSHELL_USER_ZDOTDIR:-$HOME}/.zshrc"
  fi
  # The user's rc may have put its own directories first; pinned tools win,
  # and stand on PATH once.
  path=("$DEVSHELL_PROFILE/bin" ${path:#${(b)DEVSHELL_PROFILE}/bin})
else
  PROMPT='%n@%m:%~%# '
  # zsh saves no history unless told where: keep it where the user's own
  # zsh does, the common ~/.zsh_history (in their ZDOTDIR if they have one).
  HISTFILE=${DEVSHELL_USER_ZDOTDIR:-$HOME}/.zsh_history
  HISTSIZE=10000
  SAVEHIST=10000
fi
# Give nested zsh processes the user's own start-up directory back.
if [[ -n "${DEVSHELL_USER_ZDOTDIR:-}" ]]; then
  export ZDOTDIR="$DEVSHELL_USER_ZDOTDIR"
else
  unset ZDOTDIR
fi
unset DEVSHELL_USER_ZDOTDIR
# The name comes from devshell.toml or a directory name: show it, never run it.
# Its % signs are doubled for prompt expansion; under prompt_subst the
# reference expands to the name without expanding it again.
if [[ -o prompt_subst ]]; then
  __devshell_mark='(devshell:${DEVSHELL_NAME//\%/%%}) '
else
  __devshell_mark="(devshell:${DEVSHELL_NAME//\%/%%}) "
fi
PROMPT="$__devshell_mark$PROMPT"
# Prompts that rebuild PROMPT before each prompt (starship, powerlevel10k…)
# would drop the marker: put it back, after them. Such a prompt can show
# $DEVSHELL_NAME itself instead.
__devshell_marker() {
  [[ $PROMPT == "$__devshell_mark"* ]] || PROMPT=$__devshell_mark$PROMPT
}
precmd_functions+=(__devshell_marker)

# A trusted [hooks] on-enter runs here, inside the shell (devshell trust).
if [ -n "${DEVSHELL_ON_ENTER:-}" ]; then
  __devshell_hook=$DEVSHELL_ON_ENTER
  unset DEVSHELL_ON_ENTER
  eval "$__devshell_hook"
  unset __devshell_hook
fi
