#!/bin/sh
# One command from a fresh Debian 12 machine (as root) to a running faxd: installs the
# packages, builds, creates a demo account on the embedded SQLite store in ./data,
# prints how to use it and runs faxd in the foreground (Ctrl-C stops it).
set -eu
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh build
export FAXD_GENERAL_DATA_DIR="${FAXD_GENERAL_DATA_DIR:-$PWD/data}"
demo=$(build/tools/faxctl --json demo)
field() { printf '%s' "$demo" | python3 -c "import json,sys; print(json.load(sys.stdin)['$1'])"; }
base=$(field base_url)
token=$(field token)
cat <<MSG

faxd is starting on its embedded store in $FAXD_GENERAL_DATA_DIR.

  Web interface: $(field web_url)
    e-mail     : $(field email)
    password   : $(field password)   (new at every start; set your own with
                 build/tools/faxctl password set --account $(field uid))
  API base URL : $base
  Demo token   : $token   (shown once; make more with build/tools/faxctl token create)
  Demo number  : $(field number)

Try it:
  curl -H "Authorization: Bearer $token" $base/accounts/self
  curl -H "Authorization: Bearer $token" -F fax_file=@document.pdf $base/accounts/self/files
  # then fax it to your own number (it arrives in your inbox) or to a sandbox number:
  curl -H "Authorization: Bearer $token" -H 'Content-Type: application/json' \\
       -d '{"from":"$(field number)","to":["$(field number)"],"files":["<path>"],"return_ids":true}' \\
       $base/accounts/self/outbox
  curl -H "Authorization: Bearer $token" "$base/accounts/self/faxes?category=inbox"

Fax.Plus SDKs: set the base path / host to $base and use the token as access token.
Stop with Ctrl-C.

MSG
exec build/src/faxd
