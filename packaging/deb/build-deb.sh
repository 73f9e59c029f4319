#!/usr/bin/env bash
# `make deb`: a Debian package of swift-rosenpass, built with dpkg-deb from a staged tree
# (docs/packaging.md). The binaries are built here with the Swift runtime linked in statically, so
# the package needs only libc, libstdc++ and libgcc; the version is what `rosenpass --version` says.
#
#   packaging/deb/build-deb.sh            builds into .build-deb, writes .build-deb/packages/*.deb
#   DEB_OUT=DIR packaging/deb/build-deb.sh
#
# Prints the path of the package on its last line.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
scratch=${DEB_SCRATCH:-$root/.build-deb}
out=${DEB_OUT:-$scratch/packages}
products="rosenpass rp rosenpass-wireguard-broker-socket-handler rosenpass-wireguard-broker-privileged"
# Full RELRO and immediate binding (the privileged broker carries a file capability).
swift_flags=(-c release --static-swift-stdlib --scratch-path "$scratch" -Xlinker -z -Xlinker relro -Xlinker -z -Xlinker now)

for product in $products; do
    echo "building $product (release, static Swift runtime)" >&2
    (cd "$root" && swift build "${swift_flags[@]}" --product "$product") >&2
done
bin=$(cd "$root" && swift build "${swift_flags[@]}" --show-bin-path)

# One source of truth: the version the programs print. Debian orders "~" before everything, so a
# pre-release 0.3.0-dev becomes 0.3.0~dev, and -1 is the package revision.
upstream=$("$bin/rosenpass" --version | cut -d' ' -f1)
version="${upstream//-/\~}-1"
arch=$(dpkg --print-architecture)
package=swift-rosenpass
stage="$scratch/stage/${package}_${version}_${arch}"
rm -rf "$stage"
mkdir -p "$stage/DEBIAN" "$out"
umask 022

# Binaries, stripped as Debian policy asks.
install -d "$stage/usr/bin"
for product in $products; do
    install -m 0755 "$bin/$product" "$stage/usr/bin/$product"
    strip --strip-unneeded --remove-section=.comment --remove-section=.note "$stage/usr/bin/$product"
done

# Man pages for every program, from the programs' own command descriptions.
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
for program in rosenpass-wireguard-broker-socket-handler rosenpass-wireguard-broker-privileged; do
    "$bin/$program" --experimental-dump-help > "$work/$program.json"
done
"$bin/rosenpass" --generate-manpage "$work/man" \
    --manpage-for-program "$work/rosenpass-wireguard-broker-socket-handler.json" \
    --manpage-for-program "$work/rosenpass-wireguard-broker-privileged.json"
install -d "$stage/usr/share/man/man1"
for page in "$work"/man/*.1; do
    gzip -9n < "$page" > "$stage/usr/share/man/man1/$(basename "$page").gz"
    chmod 0644 "$stage/usr/share/man/man1/$(basename "$page").gz"
done

# Shell completions, where bash, zsh and fish look for them.
install -d "$stage/usr/share/bash-completion/completions" "$stage/usr/share/zsh/vendor-completions" \
    "$stage/usr/share/fish/vendor_completions.d"
# bash-completion sources these files: no "#!" line.
"$bin/rosenpass" --print-completions bash | sed '1{/^#!/d}' > "$stage/usr/share/bash-completion/completions/rosenpass"
"$bin/rosenpass" --print-completions zsh > "$stage/usr/share/zsh/vendor-completions/_rosenpass"
"$bin/rosenpass" --print-completions fish > "$stage/usr/share/fish/vendor_completions.d/rosenpass.fish"
for program in rosenpass-wireguard-broker-socket-handler rosenpass-wireguard-broker-privileged; do
    "$bin/$program" --generate-completion-script bash | sed '1{/^#!/d}' > "$stage/usr/share/bash-completion/completions/$program"
    "$bin/$program" --generate-completion-script zsh > "$stage/usr/share/zsh/vendor-completions/_$program"
    "$bin/$program" --generate-completion-script fish > "$stage/usr/share/fish/vendor_completions.d/$program.fish"
done

# systemd: the per-interface templates and the broker, with the package's paths; accounts.
units_dir=lib/systemd/system
install -d "$stage/$units_dir"
for unit in rosenpass@.service rosenpass-brokered@.service rp@.service rosenpass-broker.service; do
    sed 's#/usr/local/bin/#/usr/bin/#g' "$root/systemd/$unit" > "$stage/$units_dir/$unit"
    chmod 0644 "$stage/$units_dir/$unit"
done
install -D -m 0644 "$here/sysusers.conf" "$stage/usr/lib/sysusers.d/$package.conf"

# Configuration (conffiles): the rp example the reference ships, and an empty broker allow-list.
install -D -m 0644 "$here/example.toml" "$stage/etc/rosenpass/example.toml"
install -D -m 0644 "$here/broker.policy" "$stage/etc/rosenpass/broker.policy"
printf '%s\n' /etc/rosenpass/example.toml /etc/rosenpass/broker.policy > "$stage/DEBIAN/conffiles"

# Documentation: copyright, changelog, README; as examples the multi-device units and the
# network managers' files (docs/packaging.md).
doc="$stage/usr/share/doc/$package"
install -D -m 0644 "$here/copyright" "$doc/copyright"
sed -e "s/@VERSION@/$version/" -e "s/@DATE@/$(date -R -u -d "@${SOURCE_DATE_EPOCH:-$(date +%s)}")/" \
    "$here/changelog" | gzip -9n > "$doc/changelog.Debian.gz"
gzip -9n < "$root/README.md" > "$doc/README.md.gz"
install -d "$doc/examples/systemd"
for unit in rosenpass-exchange.service rosenpass-link.service rosenpass-link-sshd.service rosenpass-link-sshd_config \
        rosenpass-link-tls.service rosenpass-link-tls-device.service; do
    sed 's#/usr/local/bin/#/usr/bin/#g' "$root/systemd/$unit" > "$doc/examples/systemd/$unit"
done
# The networkd and NetworkManager setups of docs/packaging.md.
cp -r "$here/../examples/networkd" "$here/../examples/NetworkManager" "$doc/examples/"
find "$doc" -type f -exec chmod 0644 {} +
find "$doc" -type d -exec chmod 0755 {} +
# A package built outside Debian closes no ITP bug.
install -D -m 0644 "$here/lintian-overrides" "$stage/usr/share/lintian/overrides/$package"

# Dependencies: the libraries the binaries load, and the newest glibc symbol version they use.
libs=$(for product in $products; do ldd "$stage/usr/bin/$product"; done | awk '/=>/ { print $3 }' | sort -u)
depends=()
for lib in $libs; do
    owner=$(dpkg -S "$(readlink -f "$lib")" 2> /dev/null | head -1 | cut -d: -f1) || true
    [ -n "$owner" ] || owner=$(dpkg -S "$lib" 2> /dev/null | head -1 | cut -d: -f1) || true
    [ -n "$owner" ] || { echo "no Debian package provides $lib" >&2; exit 1; }
    depends+=("$owner")
done
glibc=$(for product in $products; do objdump -T "$stage/usr/bin/$product"; done \
    | grep -o 'GLIBC_[0-9.]*' | sed 's/GLIBC_//' | sort -V | tail -1)
depends_line=$(printf '%s\n' "${depends[@]}" | sort -u | sed "s/^libc6$/libc6 (>= $glibc)/" | paste -sd, | sed 's/,/, /g')
# adduser: the accounts without systemd-sysusers; libcap2-bin: setcap in postinst; procps:
# /bin/kill, the units' ExecReload= (not in a minimal Debian, as the systemd-guest suites found).
depends_line="$depends_line, adduser, libcap2-bin, procps"

for script in postinst prerm postrm; do
    install -m 0755 "$here/$script" "$stage/DEBIAN/$script"
done
installed_size=$(du -sk --apparent-size --exclude=DEBIAN "$stage" | cut -f1)
sed -e "s/@VERSION@/$version/" -e "s/@ARCH@/$arch/" -e "s/@INSTALLED_SIZE@/$installed_size/" \
    -e "s/@DEPENDS@/$depends_line/" "$here/control.in" > "$stage/DEBIAN/control"
(cd "$stage" && find . -type f ! -path './DEBIAN/*' -printf '%P\0' | sort -z | xargs -0 md5sum > DEBIAN/md5sums)
chmod 0644 "$stage/DEBIAN/control" "$stage/DEBIAN/conffiles" "$stage/DEBIAN/md5sums"

deb="$out/${package}_${version}_${arch}.deb"
dpkg-deb --root-owner-group -Zxz --build "$stage" "$deb" >&2
echo "$deb"
