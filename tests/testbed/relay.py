"""A TCP relay: listen on one address, pass each connection to another. The bed's S3 server listens on
127.0.0.1; pods reach the host only on the node's bridge address (no default route, no kube-proxy),
so `testbed up` runs this on the bridge address for the data mover's Jobs. Standard library only.

    python3 relay.py LISTEN_HOST:PORT TARGET_HOST:PORT
"""

import socket
import sys
import threading


def pump(source, sink):
    try:
        while True:
            data = source.recv(65536)
            if not data:
                break
            sink.sendall(data)
    except OSError:
        pass
    for sock in (source, sink):
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


def serve(client, target):
    try:
        upstream = socket.create_connection(target, timeout=30)
    except OSError:
        client.close()
        return
    upstream.settimeout(None)
    threading.Thread(target=pump, args=(upstream, client), daemon=True).start()
    pump(client, upstream)


def main(listen, target):
    host, port = listen.rsplit(":", 1)
    thost, tport = target.rsplit(":", 1)
    server = socket.create_server((host, int(port)))
    while True:
        client, _addr = server.accept()
        threading.Thread(target=serve, args=(client, (thost, int(tport))), daemon=True).start()


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
