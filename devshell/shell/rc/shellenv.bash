# shellcheck shell=bash
# devshell shellenv for bash and zsh: `eval "$(devshell shellenv bash)"` in
# ~/.bashrc, `eval "$(devshell shellenv zsh)"` in ~/.zshrc.
#
# Before each prompt this finds the nearest devshell.toml at or above $PWD and
# applies that project's environment (its pinned tools in front of the user's
# PATH), or takes it back when the user leaves. Only a project the user has
# trusted (`devshell trust`) is applied; until then one line says what to run.
# While nothing changed it starts no process at all: builtins only, with -nt
# comparing the cached environment with devshell.toml, devshell.lock and the
# trust file. The cache lives in devshell's state, never in the project tree.
# A change goes through devshell once; if that fails, the last good
# environment stays, with a warning.
#
# A trusted project's [hooks] on-enter runs once on coming in. While a profile
# is applied, roots/shells/<this shell's pid> names it, so `devshell gc` keeps it.
# In a shell `devshell enter` started, the project it entered ($__DEVSHELL_ENTERED)
# is the shell's own environment: the hook neither applies nor takes it back.
# Prompts can show $DEVSHELL_NAME, set only while a project applies.
#
# Outside any project it applies the user-level profile (`devshell global
# add`, in ~/.config/devshell/global) the same way; a project's environment
# holds the profile's tools after its own.
#
# What it replaced lives in exported __DEVSHELL_SE_* variables, so that a
# nested shell, or `exec $SHELL`, can still take it back.

# The project key of path $1 in __ds_key: activation.project_key's rule.
__devshell_key() {
  [ -z "${ZSH_VERSION-}" ] || setopt localoptions nomultibyte
  local LC_ALL=C __ds_k=${1//\%/%25} __ds_h
  __ds_k=${__ds_k//\//%}
  if [ "${#__ds_k}" -gt 200 ]; then
    __ds_h=$(printf '%s' "$1" | { command sha256sum 2>/dev/null || command shasum -a 256; })
    __ds_k=long-${__ds_h:0:40}
  fi
  __ds_key=$__ds_k
}

# Whether $1 can be a variable name (names reach eval).
__devshell_name() {
  case $1 in
    '' | [0-9]* | *[!A-Za-z0-9_]*) return 1 ;;
  esac
}

# The user-level profile's directory in __ds_global: userprofile.root's rule.
__devshell_global() {
  __ds_global=${XDG_CONFIG_HOME:-$HOME/.config}/devshell/global
}

# Whether cache $1 is newer than project $2's devshell.toml and devshell.lock,
# than trust file $3, and than the user-level profile's files (a project's
# environment holds the profile's tools after its own).
__devshell_fresh() {
  local __ds_global
  __devshell_global
  [[ -f $1 && -f $2/devshell.lock && $1 -nt $2/devshell.toml && $1 -nt $2/devshell.lock &&
    ( ! -e $3 || $1 -nt $3 ) &&
    ( ! -e $__ds_global/devshell.toml || $1 -nt $__ds_global/devshell.toml ) &&
    ( ! -e $__ds_global/devshell.lock || $1 -nt $__ds_global/devshell.lock ) ]]
}

# Whether a failure was recorded in $1 since project $2 (or trust file $3, or
# the user-level profile) last changed.
__devshell_failed() {
  local __ds_global
  __devshell_global
  [[ -f $1 && $1 -nt $2/devshell.toml && ( ! -e $2/devshell.lock || $1 -nt $2/devshell.lock ) &&
    ( ! -e $3 || $1 -nt $3 ) &&
    ( ! -e $__ds_global/devshell.toml || $1 -nt $__ds_global/devshell.toml ) &&
    ( ! -e $__ds_global/devshell.lock || $1 -nt $__ds_global/devshell.lock ) ]]
}

# While this shell has profile $1 applied, gc keeps it: roots/shells/<pid>
# names it ("" once it is taken back). Builtins only, but for the first mkdir.
__devshell_gcroot() {
  local __ds_dir=${DEVSHELL_HOME:-${XDG_DATA_HOME:-$HOME/.local/share}/devshell}/roots/shells
  [[ -d $__ds_dir ]] || command mkdir -p "$__ds_dir" || return 0
  { printf '%s\n' "$1" >|"$__ds_dir/$$"; } 2>/dev/null || :
}

# Apply cache $1 for project $2, saving each value it replaces (and whether
# the variable was set at all). Fails, having changed nothing, unless $1 is a
# cache file devshell wrote.
__devshell_load() {
  [ -z "${ZSH_VERSION-}" ] || setopt localoptions shwordsplit
  local IFS=$' \t\n' __ds_tag __ds_stamp __ds_names __ds_n
  [[ -f $1 ]] || return 1
  read -r __ds_tag __ds_stamp __ds_names <"$1" || return 1
  [[ $__ds_tag == '#devshell-shellenv:1' && -n $__ds_stamp ]] || return 1
  for __ds_n in $__ds_names; do
    __devshell_name "$__ds_n" || return 1
  done
  for __ds_n in $__ds_names; do
    if eval "[ -n \"\${$__ds_n+x}\" ]"; then
      eval "export __DEVSHELL_SE_OLD_$__ds_n=\"\${$__ds_n}\""
    else
      unset "__DEVSHELL_SE_OLD_$__ds_n"
    fi
  done
  export __DEVSHELL_SE_ROOT="$2" __DEVSHELL_SE_STAMP="$__ds_stamp" __DEVSHELL_SE_NAMES="$__ds_names"
  # shellcheck disable=SC1090
  . "$1"
  [[ -z $__ds_names ]] || __devshell_gcroot "${DEVSHELL_PROFILE-}"
  return 0
}

# Put back every variable the applied environment set, or unset it.
__devshell_unload() {
  [ -z "${ZSH_VERSION-}" ] || setopt localoptions shwordsplit
  local IFS=$' \t\n' __ds_n
  for __ds_n in ${__DEVSHELL_SE_NAMES-}; do
    __devshell_name "$__ds_n" || continue
    if eval "[ -n \"\${__DEVSHELL_SE_OLD_$__ds_n+x}\" ]"; then
      eval "export $__ds_n=\"\${__DEVSHELL_SE_OLD_$__ds_n}\""
      unset "__DEVSHELL_SE_OLD_$__ds_n"
    else
      unset "$__ds_n"
    fi
  done
  [[ -z ${__DEVSHELL_SE_NAMES-} ]] || __devshell_gcroot ''
  unset __DEVSHELL_SE_ROOT __DEVSHELL_SE_STAMP __DEVSHELL_SE_NAMES
}

# Ask devshell for project $1's environment, cache it in $2 and apply it; on
# failure, apply the last good cache instead (unless trust file $3 says the
# user revoked the trust: a failure can only come from trusted content).
__devshell_refresh() {
  local __ds_tmp="$2.$$" __ds_tag __ds_rest
  command mkdir -p "${2%/*}"
  if @DEVSHELL@ shellenv @SHELL@ --env --root "$1" </dev/null >"$__ds_tmp" &&
    read -r __ds_tag __ds_rest <"$__ds_tmp" && [[ $__ds_tag == '#devshell-shellenv:1' ]] &&
    command mv -f "$__ds_tmp" "$2" && __devshell_load "$2" "$1"; then
    return 0
  fi
  command rm -f "$__ds_tmp"
  # Until devshell.toml or devshell.lock changes again, do not retry.
  printf 'failed\n' >"$2.failed"
  local __ds_said=''
  [[ ! -f $3 ]] || read -r __ds_said <"$3" || :
  if [[ $__ds_said != revoked ]] && __devshell_load "$2" "$1"; then
    printf '%s\n' "devshell: could not refresh the environment of $1; keeping the last good one" >&2
  else
    export __DEVSHELL_SE_ROOT="$1" __DEVSHELL_SE_STAMP='' __DEVSHELL_SE_NAMES=''
    printf '%s\n' "devshell: no environment for $1 yet; fix the error above and it is tried again" >&2
  fi
}

# Make project $1's environment the one applied; when it first applies since
# coming in (not at each prompt, nor when a nested shell or a refresh applies
# it again), run its [hooks] on-enter, which only a trusted project's cache
# holds.
__devshell_enter() {
  if [[ ${__DEVSHELL_SE_ROOT-} == "$1" && -n ${__DEVSHELL_SE_NAMES-} ]]; then
    __devshell_switch "$1"  # already in: whatever it applies, no on-enter
    return
  fi
  local __ds_on_enter
  unset __devshell_on_enter
  __devshell_switch "$1"
  __ds_on_enter=${__devshell_on_enter-}
  unset __devshell_on_enter
  if [[ -n $__ds_on_enter ]]; then
    eval "$__ds_on_enter"
  fi
}

# Make project $1's environment the one applied, with as little work as can be.
__devshell_switch() {
  if [[ ${__devshell_key_root-} != "$1" ]]; then
    __devshell_key "$1"
    __devshell_key_root=$1 __devshell_key_value=$__ds_key
  fi
  local __ds_state=${DEVSHELL_HOME:-${XDG_DATA_HOME:-$HOME/.local/share}/devshell}/state
  local __ds_cache=$__ds_state/projects/$__devshell_key_value/shellenv.@SHELL@
  local __ds_trust=$__ds_state/trust/$__devshell_key_value
  local __ds_tag __ds_stamp __ds_rest
  if [[ ${__DEVSHELL_SE_ROOT-} == "$1" ]]; then
    if __devshell_fresh "$__ds_cache" "$1" "$__ds_trust"; then
      # The hot path: the cache this shell applied is current (an untrusted
      # project's applies no variable, so it has no profile to check).
      if [[ -z ${__DEVSHELL_SE_NAMES-} || -d ${DEVSHELL_PROFILE-} ]] &&
        read -r __ds_tag __ds_stamp __ds_rest <"$__ds_cache" &&
        [[ $__ds_stamp == "${__DEVSHELL_SE_STAMP-}" ]]; then
        return 0
      fi
    elif __devshell_failed "$__ds_cache.failed" "$1" "$__ds_trust"; then
      return 0  # it failed since the last change: the last good one stays
    fi
  fi
  [[ -z ${__DEVSHELL_SE_ROOT+x} ]] || __devshell_unload
  if __devshell_fresh "$__ds_cache" "$1" "$__ds_trust" && __devshell_load "$__ds_cache" "$1"; then
    [[ -n ${__DEVSHELL_SE_NAMES-} && ! -d ${DEVSHELL_PROFILE-} ]] || return 0
    __devshell_unload  # its profile is gone from the store: devshell rebuilds it
  fi
  __devshell_refresh "$1" "$__ds_cache" "$__ds_trust"
}

__devshell_hook() {
  local __ds_rc=$? __ds_dir=$PWD __ds_root=''
  while :; do
    if [[ -f $__ds_dir/devshell.toml ]]; then
      __ds_root=${__ds_dir:-/}
      break
    fi
    [[ -n $__ds_dir ]] || break
    __ds_dir=${__ds_dir%/*}
  done
  # Outside any project, the user's own tools (`devshell global add`).
  if [[ -z $__ds_root ]]; then
    local __ds_global
    __devshell_global
    [[ ! -f $__ds_global/devshell.toml ]] || __ds_root=$__ds_global
  fi
  # In a shell `devshell enter` started, that project's environment is the
  # shell's own: never the hook's to apply again or to take back.
  [[ $__ds_root != "${__DEVSHELL_ENTERED-}" ]] || __ds_root=''
  if [[ -n $__ds_root ]]; then
    __devshell_enter "$__ds_root"
  elif [[ -n ${__DEVSHELL_SE_ROOT+x} ]]; then
    __devshell_unload
  fi
  return "$__ds_rc"
}

# Run first, so that the user's own prompt code sees the project's tools;
# keep whatever was there, and add the hook only once.
if [ -n "${ZSH_VERSION-}" ]; then
  case " ${precmd_functions[*]-} " in
    *" __devshell_hook "*) ;;
    *) precmd_functions=(__devshell_hook "${precmd_functions[@]}") ;;
  esac
elif [[ -n ${PROMPT_COMMAND+x} && ${PROMPT_COMMAND@a} == *a* ]]; then
  case " ${PROMPT_COMMAND[*]} " in
    *" __devshell_hook "*) ;;
    *) PROMPT_COMMAND=(__devshell_hook "${PROMPT_COMMAND[@]}") ;;
  esac
else
  # shellcheck disable=SC2128,SC2178 # a string here: arrays went above
  case $'\n'"${PROMPT_COMMAND-}"$'\n' in
    *$'\n'__devshell_hook$'\n'*) ;;
    *) PROMPT_COMMAND="__devshell_hook${PROMPT_COMMAND:+$'\n'$PROMPT_COMMAND}" ;;
  esac
fi
