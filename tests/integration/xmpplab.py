#!/usr/bin/python3
"""xmpplab.py - XMPP peers for the tlshim integration tests (t10).

Run with the system interpreter (python3-slixmpp is installed for it):

  chat     bob logs in and waits; alice logs in and sends bob a message;
           bob must receive it.  Both are legacy clients: no TLS of their
           own (tlshim does it), SCRAM or PLAIN over their plaintext leg.
           They connect to the address given and look nothing up.
  open     open a client stream (raw XML), print what comes back until
           the features or a stream error, close the stream.
  s2s      a scripted legacy server: open a jabber:server stream with
           the dialback namespace, read the features, send a dialback
           <db:result/>, print the answer (or the stream error).

Output is key=value lines; the exit status is 0 when the exchange went
as a client expects (features seen, message received, dialback answered).
Every wait is bounded by --timeout.
"""

import argparse
import asyncio
import logging
import re
import socket
import sys
import time

NS_STREAMS = "http://etherx.jabber.org/streams"


def out(key, value):
    print("%s=%s" % (key, str(value).replace("\n", " ")), flush=True)


# ------------------------------------------------------------------ chat

async def chat(a):
    import slixmpp

    loop = asyncio.get_running_loop()
    bob_ready = loop.create_future()
    alice_sent = loop.create_future()
    got = loop.create_future()

    class Legacy(slixmpp.ClientXMPP):
        """A client that connects where it is told.  slixmpp would look
        the JID's domain up first, even with an address given: that
        lookup would leave loopback (tlshim, not the client, finds the
        server)."""

        async def get_dns_records(self, domain, port=None):
            return [(self.address[0], self.address[0], self.address[1])]

    def client(jid, password, ready):
        c = Legacy(jid, password)
        c.add_event_handler("session_start",
                            lambda e: (c.send_presence(),
                                       ready.done() or ready.set_result(True)))
        c.add_event_handler("failed_auth",
                            lambda e: ready.done() or
                            ready.set_exception(RuntimeError("auth failed")))
        c.add_event_handler("disconnected",
                            lambda e: ready.done() or
                            ready.set_exception(RuntimeError("disconnected")))
        return c

    bob = client(a.peer_jid, a.peer_password, bob_ready)
    bob.add_event_handler("message",
                          lambda m: got.done() or got.set_result(
                              str(m["body"])))
    alice = client(a.jid, a.password, alice_sent)
    rc = 1
    try:
        bob.connect(address=(a.peer_host, a.peer_port),
                    force_starttls=False, disable_starttls=True)
        await asyncio.wait_for(bob_ready, a.timeout)
        out("bob_login", "ok")
        alice.connect(address=(a.host, a.port), force_starttls=False,
                      disable_starttls=True)
        await asyncio.wait_for(alice_sent, a.timeout)
        out("alice_login", "ok")
        alice.send_message(mto=a.peer_jid, mbody=a.body, mtype="chat")
        body = await asyncio.wait_for(got, a.timeout)
        out("received", body)
        rc = 0 if body == a.body else 1
    except Exception as e:  # noqa: BLE001 - reported, not hidden
        out("error", "%s: %s" % (type(e).__name__, e))
    for c in (alice, bob):
        try:
            c.disconnect(wait=1)
        except Exception:  # noqa: BLE001
            pass
    await asyncio.sleep(1.5)
    return rc


# ------------------------------------------------------------ raw streams

def read_until(s, patterns, timeout):
    """Bytes until one of the regexes matches, EOF, or timeout."""
    buf = b""
    end = time.time() + timeout
    while time.time() < end:
        for p in patterns:
            if re.search(p, buf):
                return buf
        s.settimeout(max(0.05, end - time.time()))
        try:
            d = s.recv(65536)
        except socket.timeout:
            break
        if not d:
            break
        buf += d
    return buf


def stream_open(a):
    s = socket.create_connection((a.host, a.port), timeout=a.timeout)
    hdr = ("<?xml version='1.0'?><stream:stream xmlns='jabber:client' "
           "xmlns:stream='%s' to='%s' version='1.0'>" % (NS_STREAMS, a.to))
    s.sendall(hdr.encode())
    got = read_until(s, [rb"</stream:features>", rb"<stream:features/>",
                         rb"</stream:stream>"], a.timeout)
    text = got.decode("utf-8", "replace")
    out("reply", text)
    ok = "stream:features" in text and "stream:error" not in text
    m = re.search(r"<stream:error><([a-z-]+)", text)
    if m:
        out("stream_error", m.group(1))
    try:
        s.sendall(b"</stream:stream>")
        read_until(s, [rb"</stream:stream>"], 3)
    except OSError:
        pass
    s.close()
    return 0 if ok else 1


def s2s(a):
    s = socket.create_connection((a.host, a.port), timeout=a.timeout)
    hdr = ("<?xml version='1.0'?><stream:stream xmlns='jabber:server' "
           "xmlns:stream='%s' xmlns:db='jabber:server:dialback' "
           "from='%s' to='%s' version='1.0'>" % (NS_STREAMS, a.origin, a.to))
    s.sendall(hdr.encode())
    got = read_until(s, [rb"</stream:features>", rb"</stream:stream>"],
                     a.timeout)
    text = got.decode("utf-8", "replace")
    out("reply", text)
    m = re.search(r"<stream:stream[^>]* id='([^']+)'", text)
    out("stream_id", m.group(1) if m else "")
    if "stream:features" not in text:
        return 1
    out("dialback_offered", "yes" if "urn:xmpp:features:dialback" in text
        else "no")
    res = ("<db:result from='%s' to='%s'>%s</db:result>"
           % (a.origin, a.to, a.key))
    s.sendall(res.encode())
    ans = read_until(s, [rb"<db:result[^>]*type=", rb"</stream:stream>",
                         rb"<stream:error"], a.timeout)
    text = ans.decode("utf-8", "replace")
    out("answer", text)
    m = re.search(r"<db:result[^>]*type=['\"]([a-z]+)", text)
    out("dialback_result", m.group(1) if m else "")
    try:
        s.sendall(b"</stream:stream>")
    except OSError:
        pass
    s.close()
    return 0 if text else 1


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("chat")
    c.add_argument("--host", required=True)
    c.add_argument("--port", type=int, required=True)
    c.add_argument("--jid", required=True)
    c.add_argument("--password", required=True)
    c.add_argument("--peer-host", required=True)
    c.add_argument("--peer-port", type=int, required=True)
    c.add_argument("--peer-jid", required=True)
    c.add_argument("--peer-password", required=True)
    c.add_argument("--body", required=True)
    o = sub.add_parser("open")
    o.add_argument("--host", required=True)
    o.add_argument("--port", type=int, required=True)
    o.add_argument("--to", required=True)
    s = sub.add_parser("s2s")
    s.add_argument("--host", required=True)
    s.add_argument("--port", type=int, required=True)
    s.add_argument("--origin", required=True)
    s.add_argument("--to", required=True)
    s.add_argument("--key", default="0123456789abcdef0123456789abcdef")
    for p in (c, o, s):
        p.add_argument("--timeout", type=float, default=20)
        p.add_argument("--debug", action="store_true")
    a = ap.parse_args()
    logging.basicConfig(level=logging.DEBUG if a.debug else logging.ERROR,
                        stream=sys.stderr)
    if a.cmd == "chat":
        return asyncio.run(chat(a))
    if a.cmd == "open":
        return stream_open(a)
    return s2s(a)


if __name__ == "__main__":
    sys.exit(main())
