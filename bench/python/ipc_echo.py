# Echo peer for the IPC comparison: mode "socket" reads a length-prefixed payload and sends it back;
# mode "shm" gets a length over the socket, reads the tensor from one /dev/shm file through mmap and
# writes it into another, then answers with a 4-byte length.
import mmap, os, socket, struct, sys
import numpy as np
mode = sys.argv[1]
sock = socket.socket(fileno=3)
rfile = sock.makefile("rb", buffering=1 << 16)
def read_exact(n):
    buf = bytearray(n); view = memoryview(buf); got = 0
    while got < n:
        k = rfile.readinto(view[got:])
        if not k: sys.exit(0)
        got += k
    return buf
maps = {}
def region(path, size):
    m = maps.get(path)
    if m is None or len(m) < size:
        fd = os.open(path, os.O_RDWR); m = mmap.mmap(fd, size); os.close(fd); maps[path] = m
    return m
while True:
    (n,) = struct.unpack("<I", read_exact(4))
    if mode == "socket":
        body = read_exact(n)
        array = np.frombuffer(body, dtype=np.uint8)
        sock.sendmsg([struct.pack("<I", n), memoryview(array)])
    else:
        src = region("/dev/shm/nereid-ipc-in", n); dst = region("/dev/shm/nereid-ipc-out", n)
        array = np.frombuffer(src, dtype=np.uint8, count=n)
        np.frombuffer(dst, dtype=np.uint8, count=n)[:] = array
        sock.sendall(struct.pack("<I", n))
