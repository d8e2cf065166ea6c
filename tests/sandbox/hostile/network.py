"""Hostile: opens a TCP connection -> exception (socket denied by seccomp, or no network in the namespace)."""

import socket


def solve(x):
    connection = socket.create_connection(("1.1.1.1", 80), timeout=2)
    connection.sendall(b"GET / HTTP/1.0\r\n\r\n")
    return x
