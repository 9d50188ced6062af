#!/usr/bin/env bash
# Smoke test of `cove chat` in a real terminal: start it in a detached tmux session,
# type a question, press Enter, and read the answer off the screen.
#
# usage: COVE_HOME=… COVE_PORT=… tmux_chat.sh QUESTION EXPECTED [COVE_COMMAND]
#   QUESTION      typed into the chat
#   EXPECTED      text that must appear on the screen once answered
#   COVE_COMMAND  how to run cove (default: cove), e.g. "python -m cove.daemon"
# With EDITOR and EDITOR_LOG set, it then opens the first source in $EDITOR (Shift+Tab to
# the sources, o) and waits for EDITOR_LOG to appear (the editor is expected to write it).
# Prints the final screen; exits 0 if EXPECTED appeared, 1 otherwise.
set -euo pipefail

question=$1
expected=$2
cove=${3:-cove}
socket="cove-test-$$"          # a private tmux server: never touches the user's sessions
session=chat
tmux_() { tmux -L "$socket" "$@"; }
trap 'tmux_ kill-server 2>/dev/null || true' EXIT

screen() { tmux_ capture-pane -p -t "$session"; }

wait_for() {  # wait_for TEXT SECONDS
    local deadline=$((SECONDS + $2))
    while ((SECONDS < deadline)); do
        if screen | grep -qF -- "$1"; then return 0; fi
        sleep 0.5
    done
    return 1
}

tmux_ new-session -d -s "$session" -x 100 -y 30 \
    "env COVE_HOME='$COVE_HOME' COVE_PORT='$COVE_PORT' EDITOR='${EDITOR:-}' \
        $cove chat --temperature 0 --seed 1"

# The chat is ready once the daemon's status is on the screen.
if ! wait_for "up · " 60; then
    echo "cove chat did not come up:"; screen; exit 1
fi
tmux_ send-keys -t "$session" -l "$question"
tmux_ send-keys -t "$session" Enter
if ! wait_for "Sources" 120; then
    echo "no answer with sources on the screen:"; screen; exit 1
fi
sleep 0.5
screen
# The answer wraps: join the lines, without the borders on their left, before looking.
screen | sed 's/^[^[:alnum:]]*//' | tr '\n' ' ' | tr -s ' ' | grep -qF -- "$expected" \
    || { echo "expected text missing: $expected"; exit 1; }

if [[ -n "${EDITOR_LOG:-}" ]]; then
    tmux_ send-keys -t "$session" BTab o
    deadline=$((SECONDS + 20))
    until [[ -s "$EDITOR_LOG" ]] || ((SECONDS >= deadline)); do sleep 0.2; done
    [[ -s "$EDITOR_LOG" ]] || { echo "the editor did not run:"; screen; exit 1; }
    echo "editor ran with: $(cat "$EDITOR_LOG")"
    wait_for "Sources" 10 || { echo "the chat did not come back:"; screen; exit 1; }
fi
tmux_ send-keys -t "$session" C-q
