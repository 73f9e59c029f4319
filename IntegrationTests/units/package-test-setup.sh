#!/bin/sh
# The setup of the reference's package test, as the installed package's files describe it: in
# /etc/rosenpass, server.toml and client.toml derived from example.toml (interfaces rp-server and
# rp-client on one host, the client reaching the server at [::1]:51821, keys where rp@.service
# hands them over), and both hosts' keys made with the installed rp (rp genkey, then rp pubkey into
# the other's peers/ folder). The key folders stay as rp genkey makes them (0700).
# Used by test-deb.sh on this machine and by test-units-systemd-qemu.sh in its guest.
set -eu
example=/etc/rosenpass/example.toml
sed -e 's/^dev = .*/dev = "rp-server"/' -e 's#^private_keys_dir = .*#private_keys_dir = "/run/credentials/rp@server.service"#' \
    -e 's#^public_keys_dir = .*#public_keys_dir = "/etc/rosenpass/server/peers/client"#' "$example" > /etc/rosenpass/server.toml
sed -e 's/^dev = .*/dev = "rp-client"/' -e 's#^ip = .*#ip = "fc00::2/64"#' -e 's#^listen = .*#listen = "[::]:51831"#' \
    -e 's#^private_keys_dir = .*#private_keys_dir = "/run/credentials/rp@client.service"#' \
    -e 's#^public_keys_dir = .*#public_keys_dir = "/etc/rosenpass/client/peers/server"#' \
    -e 's/^allowed_ips = .*/allowed_ips = "fc00::1"/' -e 's/^# endpoint = .*/endpoint = "[::1]:51821"/' "$example" > /etc/rosenpass/client.toml
grep -q '^endpoint = "\[::1\]:51821"' /etc/rosenpass/client.toml || { echo "$example has no endpoint line to fill in" >&2; exit 1; }
for side in server client; do
    rp genkey "/etc/rosenpass/$side" > /dev/null 2>&1 || { echo "rp genkey /etc/rosenpass/$side failed" >&2; exit 1; }
done
rp pubkey /etc/rosenpass/server /etc/rosenpass/client/peers/server || { echo "rp pubkey (server) failed" >&2; exit 1; }
rp pubkey /etc/rosenpass/client /etc/rosenpass/server/peers/client || { echo "rp pubkey (client) failed" >&2; exit 1; }
