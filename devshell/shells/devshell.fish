# devshell's fish start-up, run with --init-command (after the user's config
# in an inherit shell; with --no-config in a pure one).
if test "$DEVSHELL_ISOLATION" = inherit
    set -gx PATH $DEVSHELL_PROFILE/bin $PATH
end
if functions -q fish_prompt
    functions -c fish_prompt __devshell_user_prompt
else
    function __devshell_user_prompt
        printf '%s> ' (prompt_pwd)
    end
end
function fish_prompt
    printf '(devshell:%s) ' $DEVSHELL_NAME
    __devshell_user_prompt
end
