#!/usr/bin/env bash
# Checks the syntax of docs/nginx-voxir.conf with nginx -t, inside a throwaway configuration (its
# own prefix, pid and log files, a self-signed certificate), so nothing of the machine's nginx is
# touched. Exit 77 (skipped) when nginx or openssl is not installed.
set -euo pipefail
conf=$1
nginx=$(command -v nginx || true)
[[ -x $nginx ]] || nginx=/usr/sbin/nginx
if [[ ! -x $nginx ]] || ! command -v openssl >/dev/null; then
  echo "SKIPPED: nginx or openssl is not installed"
  exit 77
fi
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=voxir.example.org \
  -keyout "$dir/key.pem" -out "$dir/cert.pem" 2>/dev/null
sed -e "s|/etc/ssl/certs/voxir.pem|$dir/cert.pem|; s|/etc/ssl/private/voxir.key|$dir/key.pem|" \
  "$conf" >"$dir/site.conf"
cat >"$dir/nginx.conf" <<CONF
pid $dir/nginx.pid;
error_log $dir/error.log;
events {}
http {
  access_log off;
  include $dir/site.conf;
}
CONF
"$nginx" -t -p "$dir" -c "$dir/nginx.conf"
