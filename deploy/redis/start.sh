#!/bin/sh
# Starts Redis with the users of users.acl, their passwords taken from the environment. Redis
# cannot read the environment itself, so the file is rendered (to REDIS_ACL_OUT) first; a
# variable that is unset or empty stops the start. Arguments are passed on to redis-server.
set -eu
here=$(dirname "$0")
out=${REDIS_ACL_OUT:-/tmp/users.acl}
# Comment lines are not part of ACL file syntax; ${NAME} becomes the variable's value, once.
awk '
  /^[[:space:]]*(#|$)/ { next }
  {
    line = $0; rendered = ""
    while (match(line, /\$\{[A-Za-z_][A-Za-z0-9_]*\}/)) {
      name = substr(line, RSTART + 2, RLENGTH - 3)
      if (ENVIRON[name] == "") { print "start.sh: " name " is not set" > "/dev/stderr"; exit 1 }
      if (ENVIRON[name] ~ /[[:space:]]/) { print "start.sh: " name " contains white space" > "/dev/stderr"; exit 1 }
      rendered = rendered substr(line, 1, RSTART - 1) ENVIRON[name]
      line = substr(line, RSTART + RLENGTH)
    }
    print rendered line
  }
' "$here/users.acl" > "$out"
chmod 600 "$out"
exec redis-server --aclfile "$out" "$@"
