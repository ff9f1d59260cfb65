# devshell shellenv for fish: `devshell shellenv fish | source` in config.fish.
#
# Before each prompt this finds the nearest devshell.toml at or above $PWD and
# applies that project's environment (its pinned tools in front of the user's
# PATH), or takes it back when the user leaves. Only a project the user has
# trusted (`devshell trust`) is applied; until then one line says what to run.
# While nothing changed it starts no process at all: builtins only, with
# `test -nt` comparing the cached environment with devshell.toml,
# devshell.lock and the trust file. The cache lives in devshell's state, never
# in the project tree. A change goes through devshell once; if that fails, the
# last good environment stays, with a warning.
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
# What it replaced lives in exported __DEVSHELL_SE_* variables (the same ones
# devshell's bash and zsh code uses), so that a nested shell can take it back.
# Locals are prefixed: a project may set any name, and `$$name` sees locals.

function __devshell_name --argument-names __ds_n
    string match -qr '^[A-Za-z_][A-Za-z0-9_]*$' -- "$__ds_n"
end

# The project key of a path: activation.project_key's rule. UTF-8 bytes are
# counted with builtins (no fork); only a key over 200 bytes is hashed.
function __devshell_key --argument-names __ds_root
    set -l __ds_k (string replace -a % %25 -- $__ds_root | string replace -a / %)
    set -l __ds_b (string replace -ra '[\x{80}-\x{7ff}]' xx -- $__ds_k \
        | string replace -ra '[\x{800}-\x{ffff}]' xxx | string replace -ra '[\x{10000}-\x{10ffff}]' xxxx)
    if test (string length -- "$__ds_b") -gt 200
        set -l __ds_h (printf '%s' $__ds_root | begin
                command sha256sum 2>/dev/null; or command shasum -a 256
            end)
        set __ds_k long-(string sub -l 40 -- $__ds_h)
    end
    printf '%s\n' $__ds_k
end

# The user-level profile's directory: userprofile.root's rule.
function __devshell_global
    if test -n "$XDG_CONFIG_HOME"
        printf '%s\n' $XDG_CONFIG_HOME/devshell/global
    else
        printf '%s\n' $HOME/.config/devshell/global
    end
end

# Whether a file is newer than the user-level profile's files (a project's
# environment holds the profile's tools after its own).
function __devshell_after_global --argument-names __ds_file
    set -l __ds_global (__devshell_global)
    for __ds_f in $__ds_global/devshell.toml $__ds_global/devshell.lock
        test -e $__ds_f; and not test $__ds_file -nt $__ds_f; and return 1
    end
    return 0
end

function __devshell_fresh --argument-names __ds_cache __ds_root __ds_trust
    test -f $__ds_cache
    and test -f $__ds_root/devshell.lock
    and test $__ds_cache -nt $__ds_root/devshell.toml
    and test $__ds_cache -nt $__ds_root/devshell.lock
    and begin
        not test -e $__ds_trust
        or test $__ds_cache -nt $__ds_trust
    end
    and __devshell_after_global $__ds_cache
end

# Whether a failure was recorded since the project (or its trust, or the
# user-level profile) last changed.
function __devshell_failed --argument-names __ds_marker __ds_root __ds_trust
    test -f $__ds_marker
    and test $__ds_marker -nt $__ds_root/devshell.toml
    and begin
        not test -e $__ds_root/devshell.lock
        or test $__ds_marker -nt $__ds_root/devshell.lock
    end
    and begin
        not test -e $__ds_trust
        or test $__ds_marker -nt $__ds_trust
    end
    and __devshell_after_global $__ds_marker
end

# The stamp and the variable names in the first line of a cache file devshell
# wrote; fails for any other file.
function __devshell_header --argument-names __ds_file
    test -f $__ds_file; or return 1
    read -l __ds_line <$__ds_file; or return 1
    set -l __ds_fields (string split -n ' ' -- $__ds_line)
    test "$__ds_fields[1]" = '#devshell-shellenv:1'; and test -n "$__ds_fields[2]"; or return 1
    # printf, not `string join`: that fails when there is nothing to join
    # (an untrusted project's cache names no variable).
    printf '%s\n' $__ds_fields[2..-1]
end

# While this shell has a profile applied, gc keeps it: roots/shells/<pid>
# names it ("" once it is taken back). Builtins only, but for the first mkdir.
function __devshell_gcroot --argument-names __ds_profile
    set -l __ds_dir $HOME/.local/share/devshell
    test -n "$XDG_DATA_HOME"; and set __ds_dir $XDG_DATA_HOME/devshell
    test -n "$DEVSHELL_HOME"; and set __ds_dir $DEVSHELL_HOME
    set __ds_dir $__ds_dir/roots/shells
    test -d $__ds_dir; or command mkdir -p $__ds_dir; or return 0
    printf '%s\n' "$__ds_profile" >$__ds_dir/$fish_pid
end

# Apply a cache for a project, saving each value it replaces (and whether the
# variable was set at all). Fails, having changed nothing, unless it is a cache.
function __devshell_load --argument-names __ds_cache __ds_root
    set -l __ds_header (__devshell_header $__ds_cache); or return 1
    set -l __ds_names $__ds_header[2..-1]
    for __ds_n in $__ds_names
        __devshell_name $__ds_n; or return 1
    end
    for __ds_n in $__ds_names
        if set -q $__ds_n
            set -gx __DEVSHELL_SE_OLD_$__ds_n $$__ds_n
        else
            set -e -g __DEVSHELL_SE_OLD_$__ds_n
        end
    end
    set -gx __DEVSHELL_SE_ROOT $__ds_root
    set -gx __DEVSHELL_SE_STAMP $__ds_header[1]
    set -gx __DEVSHELL_SE_NAMES "$__ds_names"
    source $__ds_cache
    test -z "$__ds_names"; or __devshell_gcroot "$DEVSHELL_PROFILE"
    return 0
end

# Put back every variable the applied environment set, or erase it.
function __devshell_unload
    for __ds_n in (string split -n ' ' -- "$__DEVSHELL_SE_NAMES")
        __devshell_name $__ds_n; or continue
        set -l __ds_old __DEVSHELL_SE_OLD_$__ds_n
        if set -q $__ds_old
            set -gx $__ds_n $$__ds_old
            set -e -g $__ds_old
        else
            set -e -g $__ds_n
        end
    end
    test -z "$__DEVSHELL_SE_NAMES"; or __devshell_gcroot ''
    set -e -g __DEVSHELL_SE_ROOT
    set -e -g __DEVSHELL_SE_STAMP
    set -e -g __DEVSHELL_SE_NAMES
end

# Ask devshell for a project's environment, cache it and apply it; on failure,
# apply the last good cache instead (unless the user revoked the trust: a
# failure can only come from trusted content).
function __devshell_refresh --argument-names __ds_root __ds_cache __ds_trust
    set -l __ds_tmp $__ds_cache.$fish_pid
    command mkdir -p (string replace -r '/[^/]*$' '' -- $__ds_cache)
    if @DEVSHELL@ shellenv fish --env --root $__ds_root </dev/null >$__ds_tmp
        and __devshell_header $__ds_tmp >/dev/null
        and command mv -f $__ds_tmp $__ds_cache
        and __devshell_load $__ds_cache $__ds_root
        return 0
    end
    command rm -f $__ds_tmp
    # Until devshell.toml or devshell.lock changes again, do not retry.
    echo failed >$__ds_cache.failed
    set -l __ds_said
    test -f $__ds_trust; and read -l __ds_said <$__ds_trust
    if test "$__ds_said" != revoked
        and __devshell_load $__ds_cache $__ds_root
        echo "devshell: could not refresh the environment of $__ds_root; keeping the last good one" >&2
    else
        set -gx __DEVSHELL_SE_ROOT $__ds_root
        set -gx __DEVSHELL_SE_STAMP ''
        set -gx __DEVSHELL_SE_NAMES ''
        echo "devshell: no environment for $__ds_root yet; fix the error above and it is tried again" >&2
    end
end

# Make a project's environment the one applied; when it first applies since
# coming in (not at each prompt, nor when a nested shell or a refresh applies
# it again), run its [hooks] on-enter, which only a trusted project's cache
# holds.
function __devshell_enter --argument-names __ds_root
    set -l __ds_entering 1
    if set -q __DEVSHELL_SE_ROOT; and test "$__DEVSHELL_SE_ROOT" = "$__ds_root"; and test -n "$__DEVSHELL_SE_NAMES"
        set __ds_entering
    end
    set -e -g __devshell_on_enter
    __devshell_switch $__ds_root
    set -l __ds_on_enter $__devshell_on_enter
    set -e -g __devshell_on_enter
    if test -n "$__ds_entering"; and test -n "$__ds_on_enter"
        eval $__ds_on_enter
    end
end

# Make a project's environment the one applied, with as little work as can be.
function __devshell_switch --argument-names __ds_root
    if test "$__devshell_key_root" != "$__ds_root"; or not set -q __devshell_key_root
        set -g __devshell_key_value (__devshell_key $__ds_root)
        set -g __devshell_key_root $__ds_root
    end
    set -l __ds_state $HOME/.local/share/devshell
    test -n "$XDG_DATA_HOME"; and set __ds_state $XDG_DATA_HOME/devshell
    test -n "$DEVSHELL_HOME"; and set __ds_state $DEVSHELL_HOME
    set -l __ds_cache $__ds_state/state/projects/$__devshell_key_value/shellenv.fish
    set -l __ds_trust $__ds_state/state/trust/$__devshell_key_value
    if test "$__DEVSHELL_SE_ROOT" = "$__ds_root"; and set -q __DEVSHELL_SE_ROOT
        if __devshell_fresh $__ds_cache $__ds_root $__ds_trust
            # The hot path: the cache this shell applied is current (an
            # untrusted project's applies no variable, so has no profile).
            if test -z "$__DEVSHELL_SE_NAMES"; or test -d "$DEVSHELL_PROFILE"
                set -l __ds_header (__devshell_header $__ds_cache)
                and test "$__ds_header[1]" = "$__DEVSHELL_SE_STAMP"
                and return 0
            end
        else if __devshell_failed $__ds_cache.failed $__ds_root $__ds_trust
            return 0 # it failed since the last change: the last good one stays
        end
    end
    set -q __DEVSHELL_SE_ROOT; and __devshell_unload
    if __devshell_fresh $__ds_cache $__ds_root $__ds_trust; and __devshell_load $__ds_cache $__ds_root
        test -z "$__DEVSHELL_SE_NAMES"; or test -d "$DEVSHELL_PROFILE"; and return 0
        __devshell_unload # its profile is gone from the store: devshell rebuilds it
    end
    __devshell_refresh $__ds_root $__ds_cache $__ds_trust
end

function __devshell_hook --on-event fish_prompt
    set -l __ds_dir $PWD
    set -l __ds_root
    while true
        if test -f "$__ds_dir/devshell.toml"
            set __ds_root "$__ds_dir"
            test -n "$__ds_root"; or set __ds_root /
            break
        end
        test -n "$__ds_dir"; or break
        set __ds_dir (string replace -r '/[^/]*$' '' -- "$__ds_dir")
    end
    # Outside any project, the user's own tools (`devshell global add`).
    if test -z "$__ds_root"
        set -l __ds_global (__devshell_global)
        test -f $__ds_global/devshell.toml; and set __ds_root $__ds_global
    end
    # In a shell `devshell enter` started, that project's environment is the
    # shell's own: never the hook's to apply again or to take back.
    if set -q __DEVSHELL_ENTERED; and test "$__ds_root" = "$__DEVSHELL_ENTERED"
        set __ds_root
    end
    if test -n "$__ds_root"
        __devshell_enter $__ds_root
    else if set -q __DEVSHELL_SE_ROOT
        __devshell_unload
    end
end
