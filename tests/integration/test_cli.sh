#!/usr/bin/env bash
# The CLI skeleton: --help, --version, usage errors and profile commands with exact exit codes.
. "$(dirname "$0")/lib.sh"

expect_status 0 "--version" -- "$TOKPREP" --version
expect_grep '^tokprep [0-9]+\.[0-9]+\.[0-9]+' "$T/out" "version line"
expect_grep '^FFmpeg ' "$T/out" "FFmpeg version"
expect_grep '^libcurl ' "$T/out" "libcurl version"
expect_grep '^cJSON ' "$T/out" "cJSON version"
expect_grep '^libyaml ' "$T/out" "libyaml version"

expect_status 0 "--help" -- "$TOKPREP" --help
for c in check fit run status retry upload auth profiles; do
    expect_grep "^  $c " "$T/out" "--help lists $c"
done
for c in check fit run status retry upload auth profiles; do
    expect_status 0 "$c --help" -- "$TOKPREP" "$c" --help
    expect_grep "^Usage: tokprep $c" "$T/out" "$c --help has usage"
done
expect_status 2 "no command" -- "$TOKPREP"
expect_status 2 "unknown command" -- "$TOKPREP" frobnicate
expect_grep "unknown command 'frobnicate'" "$T/err" "names the unknown command"
expect_status 2 "unknown option" -- "$TOKPREP" profiles --bogus list
expect_grep "unknown option" "$T/err" "unknown option message"

# Numbers: one parser (tp_cli_number) for every count option, whole numbers in range only.
expect_status 2 "fit -j 3x" -- "$TOKPREP" fit -j 3x -o "$T/o" "$T/none.mp4"
expect_grep "fit: -j needs a number from 1 to 256, not '3x'" "$T/err" "fit -j names the bad value"
expect_status 2 "check -j 0" -- "$TOKPREP" check -j 0 "$T/none.mp4"
expect_grep "check: -j needs a number from 1 to 1024, not '0'" "$T/err" "check -j range"
expect_status 2 "preview --frames 65" -- "$TOKPREP" preview --frames 65 -o "$T/o" "$T/none.mp4"
expect_grep "preview: --frames needs a number from 1 to 64, not '65'" "$T/err" "--frames range"

expect_status 0 "profiles list" -- "$TOKPREP" profiles list
expect_grep '^tiktok ' "$T/out" "lists tiktok"
expect_grep '^tiktok-draft ' "$T/out" "lists tiktok-draft"

TIKTOK_CLIENT_SECRET=hunter2-secret expect_status 0 "profiles show" -- \
    "$TOKPREP" profiles show --set fix.fill=pad tiktok-draft
expect_grep '^name: tiktok-draft' "$T/out" "show prints merged name"
expect_grep '^  fill: "?pad"?' "$T/out" "show applies --set"
expect_grep 'mode: draft' "$T/out" "show merges extends"
expect_grep 'client_secret: "\*\*\*"' "$T/out" "secret masked"
expect_no_grep 'hunter2' "$T/out" "secret value never printed"

printf 'name: mine\nextends: tiktok\nfix:\n  fil: pad\n' > "$T/bad.yaml"
expect_status 2 "validate bad profile" -- "$TOKPREP" profiles validate "$T/bad.yaml"
expect_grep "bad.yaml:4:3: unknown key 'fix.fil' \(did you mean 'fix.fill'\?\)" "$T/err" \
    "validate reports file:line:col and a suggestion"
[ "$(wc -l < "$T/err")" -eq 1 ] && ok "one-line error" || bad "error is not one line"

printf 'name: mine\nextends: tiktok-draft\nfix: {fill: crop}\n' > "$T/good.yaml"
expect_status 0 "validate good profile" -- "$TOKPREP" profiles validate "$T/good.yaml"
expect_status 2 "unknown profile name" -- "$TOKPREP" profiles show nosuch
expect_grep "unknown profile 'nosuch'" "$T/err" "names the unknown profile"
expect_status 2 "bad --set" -- "$TOKPREP" profiles show --set fix.video.crf=99 tiktok
expect_grep "fix.video.crf: 99 is out of range" "$T/err" "--set out of range"
# A --set value is named as --set KEY, without a position in a file it does not come from.
expect_status 2 "bad --set choice" -- "$TOKPREP" profiles show --set fix.fill=blurr tiktok
expect_grep "^tokprep: --set fix.fill: 'blurr' is not one of blur \| pad \| crop$" "$T/err" "--set choice: --set KEY"
expect_no_grep ":1:1:" "$T/err" "--set choice: no :1:1: position"
expect_status 2 "bad --set type" -- "$TOKPREP" profiles show --set rules.min_side=abc tiktok
expect_grep "^tokprep: --set rules.min_side: expected a number, got 'abc'$" "$T/err" "--set type: --set KEY"
# A profile file still gives FILE:LINE:COL.
printf 'extends: tiktok\nfix:\n  fill: blurr\n' > "$T/bad_fill.yaml"
expect_status 2 "bad fill in a file" -- "$TOKPREP" profiles validate "$T/bad_fill.yaml"
expect_grep "bad_fill.yaml:3:9: fix.fill: 'blurr' is not one of" "$T/err" "file value: FILE:LINE:COL"

# -w naming a file: said so, before any work.
printf 'x\n' > "$T/a_file"
# (Sink none: what a delivery needs is checked before the work folder; issue 16.)
expect_status 2 "run -w FILE" -- "$TOKPREP" run -w "$T/a_file" --set upload.sink=none "$T/a_file"
expect_grep "a_file: is a file, not a folder" "$T/err" "run -w FILE: says it is a file"
finish
