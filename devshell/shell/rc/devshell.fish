# devshell's fish start-up, run with --init-command: after the user's config
# in an inherit shell, alone (--no-config) in a pure one.
if test "$DEVSHELL_ISOLATION" = inherit
    # The user's config may have put its own directories first; pinned tools
    # win, and stand on PATH once.
    while set -l __devshell_i (contains -i -- $DEVSHELL_PROFILE/bin $PATH)
        set -e PATH[$__devshell_i]
    end
    set -gx PATH $DEVSHELL_PROFILE/bin $PATH
    if functions -q fish_prompt
        functions -c fish_prompt __devshell_user_prompt
    end
end
if not functions -q __devshell_user_prompt
    # Not fish's stock prompt: it runs host programs (uname, git) that a pure
    # PATH does not have.
    function __devshell_user_prompt
        printf '%s@%s %s> ' $USER (prompt_hostname) (prompt_pwd)
    end
end
function __devshell_status
    return $argv[1]
end
function fish_prompt
    set -l last_status $status
    printf '(devshell:%s) ' $DEVSHELL_NAME
    # The user's prompt may show the last command's status: give it back.
    __devshell_status $last_status
    __devshell_user_prompt
end
# A trusted [hooks] on-enter runs here, inside the shell (devshell trust).
if set -q DEVSHELL_ON_ENTER
    set -l __devshell_hook $DEVSHELL_ON_ENTER
    set -e DEVSHELL_ON_ENTER
    eval $__devshell_hook
end
