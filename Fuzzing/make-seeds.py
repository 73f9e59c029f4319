#!/usr/bin/env python3
"""Writes the seed corpus of each fuzz target into Fuzzing/Corpus/<target>/ (committed; rerun after
changing a target's input format). Seeds are small, genuine inputs the fuzzer starts from."""

import os
import struct

here = os.path.dirname(os.path.abspath(__file__))
root = os.path.dirname(here)


def write(target, name, data):
    folder = os.path.join(here, "Corpus", target)
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, name), "wb") as seed:
        seed.write(data)


def frame(payload):
    return struct.pack("<Q", len(payload)) + payload


def request(interface=b"wg0", psk=bytes(range(32)), peer=bytes(range(32, 64)), kind=1):
    # type (u32 LE), psk 32, peer 32, interface length 1, interface 255 (zero padded)
    return struct.pack("<I", kind) + psk + peer + bytes([len(interface)]) + interface.ljust(255, b"\0")


# 1. Datagrams: the first byte picks the recorded message (and version); the second holds flags; the
#    rest mutates it.
for choice in range(18):
    write("FuzzDatagrams", f"message-{choice:02d}", bytes([choice, 0x10, 0, 0]))
    write("FuzzDatagrams", f"mutated-{choice:02d}", bytes([choice, 0x13, 0, 40, 7, 1, 0, 3, 255, 2, 0, 8]))
    # Flag 0x40: the receiver's timers run after the datagram, at 100 s.
    write("FuzzDatagrams", f"timers-{choice:02d}", bytes([choice, 0x50, 0, 200]))

# 2. Broker frames: requests, responses, a policy file.
write("FuzzBrokerFrames", "request", bytes([0, 0x0f, 0xff]) + frame(request()) + frame(request(b"wg1")))
write("FuzzBrokerFrames", "response", bytes([1, 0x00, 0x40]) + frame(struct.pack("<I", 1) + b"\0"))
write("FuzzBrokerFrames", "oversized", bytes([0, 0x0f, 0xff]) + struct.pack("<Q", 400) + bytes(400))
write("FuzzBrokerFrames", "policy", bytes([2, 0, 200]) + b"interface wg0\npeer wg1 xTIBA5rboUvnH4htodjb6e697QjLERt1NAB4mZqp8Dg=\n# comment\n")

# 3. The privileged broker's stdin: a stream of requests, one malformed.
write("FuzzPrivilegedBroker", "requests", frame(request()) + frame(b"\x09\x09") + frame(request(b"eth0")))

# 4. Configurations: the first byte picks rosenpass (even) or rp (odd).
examples = os.path.join(root, "Tests", "RosenpassAppTests", "Fixtures", "config-examples")
for name in sorted(os.listdir(examples)):
    with open(os.path.join(examples, name), "rb") as example:
        write("FuzzConfig", name, b"\0" + example.read())
write("FuzzConfig", "all-keys", b"\0" + b"""public_key = "pk"
secret_key = "sk"
listen = ["[::]:9999"]
verbosity = "Verbose"
[[peers]]
name = "bob"
public_key = "peer.pk"
endpoint = "peer.example:9999"
key_out = "out.key"
device = "wg0"
peer = "xTIBA5rboUvnH4htodjb6e697QjLERt1NAB4mZqp8Dg="
extra_params = ["allowed-ips", "10.0.0.2/32"]
protocol_version = "V03"
osk_organization = "example.org"
osk_label = ["a", "b"]
mceliece_variant = "round4"
""")
write("FuzzConfig", "rp", b"\1" + b"""verbose = true
private_keys_dir = "alice"
dev = "rp0"
ip = "10.0.0.1/24"
listen = "0.0.0.0:9999"
[[peers]]
public_keys_dir = "bob"
endpoint = "192.0.2.2:9999"
allowed_ips = "10.0.0.2/32"
""")

# 5. Key files: the kind byte, a size delta (128 = exact), and contents.
write("FuzzKeyFiles", "psk", bytes([2, 128]) + b"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n")
write("FuzzKeyFiles", "public", bytes([0, 128]) + bytes(range(256)))
write("FuzzKeyFiles", "secret-round3", bytes([1, 128]) + bytes(range(64)))
write("FuzzKeyFiles", "secret-round4", bytes([0x81, 128]) + bytes(range(64)))
write("FuzzKeyFiles", "base64", bytes([3, 128]) + b"xTIBA5rboUvnH4htodjb6e697QjLERt1NAB4mZqp8Dg=")

# 6. rp's command line: the first byte picks the subcommand; words are separated by NUL.
write("FuzzRPCommandLine", "exchange", bytes([0]) + b"\0".join(
    [b"alice", b"dev", b"rp0", b"ip", b"10.0.0.1/24", b"listen", b"0.0.0.0:9999", b"peer", b"bob",
     b"endpoint", b"192.0.2.2:9999", b"persistent-keepalive", b"25", b"allowed-ips", b"10.0.0.2/32,fd00::2/128"]))
write("FuzzRPCommandLine", "genkey", bytes([2]) + b"alice")

# 7. Netlink: a GET_DEVICE reply with one peer, and a CTRL_CMD_GETFAMILY reply.
def attribute(kind, payload):
    length = 4 + len(payload)
    return struct.pack("<HH", length, kind) + payload + b"\0" * ((4 - length % 4) % 4)

peer = attribute(0x8000, attribute(1, bytes(range(32))) + attribute(2, bytes(32)))
device = bytes([0, 1, 0, 0]) + attribute(2, b"wg0\0") + attribute(0x8008, peer)
message = struct.pack("<IHHII", 16 + len(device), 0x1c, 2, 1, 0) + device
write("FuzzNetlink", "get-device", message)
family = bytes([1, 2, 0, 0]) + attribute(1, struct.pack("<H", 0x1c)) + attribute(2, b"wireguard\0")
write("FuzzNetlink", "get-family", struct.pack("<IHHII", 16 + len(family), 0x10, 0, 1, 0) + family)

# 8. Hashes: a piece-size count, piece sizes, and a message of a few Keccak blocks.
write("FuzzHashes", "blocks", bytes([3, 1, 44, 135]) + bytes(range(256)) * 2)

# 9. The control socket: request frames (status, metrics, a wrong version), a response, a status
#    JSON, and HTTP request heads.
def control(payload):
    return struct.pack("<Q", len(payload)) + payload

write("FuzzControl", "requests", bytes([0]) + control(bytes([1, 1])) + control(bytes([1, 2, 7])) + control(bytes([2, 1])))
write("FuzzControl", "response", bytes([1, 1, 1, 0]) + b'{"schema":1}')
write("FuzzControl", "status-json", bytes([2]) + b'{"schema":1,"version":"v","uptime_seconds":1,"listen":[],"broker":{"kind":"none","keys_delivered":0,"keys_failed":0},"datagrams":{"received":0,"dropped":{},"cookie_replies_sent":0},"peers":[]}')
write("FuzzControl", "http", bytes([3]) + b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
