#!/usr/bin/env python3
"""Test client for the Rosenpass PSK broker protocol (docs/components.md section 1).

Sends requests over one unix-socket connection (or writes frames to stdout with --frames-only) and
prints one return code per answer, e.g. "0x00". Each request is INTERFACE:PEER_B64:PSK_B64; the word
"garbage" sends a 5-byte frame no broker can parse, "random" as PSK picks a fresh random key.
"""
import argparse
import base64
import os
import socket
import struct
import sys


def request_frame(spec):
    if spec == "garbage":
        payload = b"\xff\x00\x00\x00\x01"
    else:
        interface, peer, psk = spec.split(":")
        peer_bytes = base64.b64decode(peer)
        psk_bytes = os.urandom(32) if psk == "random" else base64.b64decode(psk)
        name = interface.encode()
        assert len(peer_bytes) == 32 and len(psk_bytes) == 32 and len(name) <= 255
        payload = b"\x01\x00\x00\x00" + psk_bytes + peer_bytes + bytes([len(name)]) + name + bytes(255 - len(name))
    return struct.pack("<Q", len(payload)) + payload


def read_exactly(sock, count):
    data = b""
    while len(data) < count:
        chunk = sock.recv(count - len(data))
        if not chunk:
            raise SystemExit("broker closed the connection after %d of %d bytes" % (len(data), count))
        data += chunk
    return data


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--socket", help="unix socket of a socket handler")
    parser.add_argument("--frames-only", action="store_true", help="write the frames to stdout instead")
    parser.add_argument("--timeout", type=float, default=20)
    parser.add_argument("requests", nargs="+")
    args = parser.parse_args()
    frames = [request_frame(spec) for spec in args.requests]
    if args.frames_only:
        sys.stdout.buffer.write(b"".join(frames))
        return
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(args.timeout)
    sock.connect(args.socket)
    for frame in frames:
        sock.sendall(frame)
        header = read_exactly(sock, 8)
        (length,) = struct.unpack("<Q", header)
        if length != 5:
            raise SystemExit("response length %d, expected 5" % length)
        payload = read_exactly(sock, 5)
        if payload[0] != 1:
            raise SystemExit("response type 0x%02x" % payload[0])
        print("0x%02x" % payload[4], flush=True)
    sock.close()


if __name__ == "__main__":
    main()
