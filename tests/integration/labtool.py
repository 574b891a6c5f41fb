#!/usr/bin/python3
"""labtool.py - helpers for the tlshim integration tests.

Run it with the system interpreter (/usr/bin/python3 -I), never with
whatever python3 comes first on PATH.  It does the parts of the lab that
are awkward in shell: finding free ports, waiting for listeners without
connecting to them, a scriptable SMTP client built on smtplib, checking a
server certificate, and checking a delivered message.

Every subcommand prints "key=value" lines on stdout for the test to grep
and exits 0 on success, 1 on failure, 2 on a usage or environment error.

The IMAP and POP3 subcommands (imaplib, poplib) do the same for the
Dovecot lab: greeting, capabilities, login, and fetching the message the
test put into the Maildir (make-msg writes it).
"""

import argparse
import base64
import hashlib
import imaplib
import os
import poplib
import random
import smtplib
import socket
import ssl
import sys
import time


def _hexaddr(ip):
    """The /proc/net/tcp spelling of an IPv4 address (host byte order)."""
    return ''.join('%02X' % int(b) for b in reversed(ip.split('.')))


def listening(ip, port):
    """Is something listening on ip:port (or on 0.0.0.0:port)?

    Reads /proc/net/tcp so that waiting for a listener never opens a
    connection, which would otherwise start a session in tlshimd or in
    Postfix and pollute the logs the tests read.
    """
    want = ('%04X' % port, {_hexaddr(ip), '00000000'})
    try:
        with open('/proc/net/tcp') as f:
            next(f)
            for line in f:
                p = line.split()
                addr, hport = p[1].split(':')
                if p[3] == '0A' and hport == want[0] and addr in want[1]:
                    return True
        return False
    except OSError:
        # No procfs: fall back to connecting.
        try:
            socket.create_connection((ip, port), timeout=1).close()
            return True
        except OSError:
            return False


def alive(pid):
    """Is process pid alive (and not a zombie)?"""
    try:
        with open('/proc/%d/stat' % pid) as f:
            return f.read().rsplit(')', 1)[1].split()[0] != 'Z'
    except OSError:
        return False


def cmd_ports(a):
    """Print n free TCP ports, free on every address given."""
    ips = a.ips.split(',')
    port = a.base
    found = []
    while len(found) < a.n and port < 32000:
        free = True
        for ip in ips:
            s = socket.socket()
            try:
                s.bind((ip, port))
            except OSError:
                free = False
            finally:
                s.close()
            if free and listening(ip, port):
                free = False
            if not free:
                break
        if free:
            found.append(port)
        port += 1
    if len(found) < a.n:
        print('error=not enough free ports from %d' % a.base)
        return 1
    print(' '.join(str(p) for p in found))
    return 0


def cmd_wait_listen(a):
    """Wait until ip:port listens (or stops listening with --closed)."""
    deadline = time.monotonic() + a.timeout
    while True:
        if listening(a.ip, a.port) != a.closed:
            return 0
        if a.pid and not alive(a.pid):
            print('error=process %d exited' % a.pid)
            return 1
        if time.monotonic() >= deadline:
            print('error=timeout after %ss' % a.timeout)
            return 1
        time.sleep(0.05)


def cmd_connect(a):
    """Try one TCP connection: 0 if it was accepted, 1 if not."""
    try:
        s = socket.create_connection((a.ip, a.port), timeout=a.timeout)
    except OSError as e:
        print('connect=failed %s' % e)
        return 1
    print('connect=ok')
    s.close()
    return 0


def make_body(kib, seed):
    """Message body: a few fixed lines, including ones that need
    dot-stuffing, then kib KiB of deterministic base64 lines."""
    lines = ['This message was relayed by tlshim in an integration test.',
             '.a line that starts with a dot',
             '..and one with two dots',
             '.',
             'after a lone dot (stuffed on the wire)']
    rnd = random.Random(seed)
    left = kib * 1024
    while left > 0:
        chunk = base64.b64encode(rnd.randbytes(57)).decode()
        lines.append(chunk)
        left -= len(chunk) + 1
    lines.append('end of body')
    return lines


def body_hash(lines):
    return hashlib.sha256(('\n'.join(lines) + '\n').encode()).hexdigest()


def reply_text(code, msg):
    if isinstance(msg, bytes):
        msg = msg.decode('utf-8', 'replace')
    return '%d %s' % (code, msg.replace('\n', ' | '))


def wait_file(path, timeout):
    deadline = time.monotonic() + timeout
    while not os.path.exists(path):
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.05)
    return True


def cmd_send(a):
    """One SMTP conversation, step by step, printing every reply.

    Exit 0 when the message was accepted (250 after DATA) or, with
    --no-mail, when the conversation ran; 3 when the greeting was not 220;
    1 on any other failure.
    """
    body = make_body(a.body_kib, a.id)
    headers = [
        'From: <%s>' % a.mail_from,
        'To: <%s>' % a.rcpt,
        'Subject: tlshim test %s' % a.id,
        'Message-Id: <%s@client.test>' % a.id,
        'Date: %s' % time.strftime('%a, %d %b %Y %H:%M:%S +0000',
                                   time.gmtime()),
        'X-Tlshim-Test: %s' % a.id,
        'X-Body-Sha256: %s' % body_hash(body),
    ]
    msg = '\r\n'.join(headers) + '\r\n\r\n' + '\r\n'.join(body) + '\r\n'

    s = smtplib.SMTP(timeout=a.timeout)
    step = 'connect'
    try:
        code, text = s.connect(a.host, a.port)
        print('local=%s:%d' % s.sock.getsockname()[:2])
        print('greeting=%s' % reply_text(code, text))
        sys.stdout.flush()
        if code != 220:
            print('result=greeting-not-220')
            s.close()
            return 3
        step = 'ehlo'
        code, text = s.ehlo(a.helo)
        print('ehlo=%s' % reply_text(code, text))
        for kw in sorted(s.esmtp_features):
            print('ehlo_keyword=%s' % kw.upper())
        if code != 250:
            print('result=ehlo-failed')
            return 1
        if a.starttls_probe:
            step = 'starttls'
            code, text = s.docmd('STARTTLS')
            print('starttls=%s' % reply_text(code, text))
            if code == 220:
                # Someone said yes: do not go on in plaintext.
                print('result=starttls-accepted')
                return 1
        if a.auth_plain:
            step = 'auth'
            cred = base64.b64encode(b'\0testuser\0testpassword').decode()
            code, text = s.docmd('AUTH', 'PLAIN ' + cred)
            print('auth=%s' % reply_text(code, text))
        sys.stdout.flush()
        if a.ready_file:
            with open(a.ready_file, 'w') as f:
                f.write('%d\n' % os.getpid())
        if a.go_file:
            step = 'waiting for go file'
            if not wait_file(a.go_file, a.go_timeout):
                print('result=go-file-timeout')
                return 1
        if a.no_mail:
            step = 'quit'
            code, text = s.docmd('QUIT')
            print('quit=%s' % reply_text(code, text))
            print('result=ok')
            s.close()
            return 0
        step = 'mail'
        code, text = s.mail(a.mail_from)
        print('mail=%s' % reply_text(code, text))
        if code != 250:
            print('result=mail-failed')
            return 1
        step = 'rcpt'
        code, text = s.rcpt(a.rcpt)
        print('rcpt=%s' % reply_text(code, text))
        if code not in (250, 251):
            print('result=rcpt-failed')
            return 1
        step = 'data'
        code, text = s.data(msg.encode())
        print('data=%s' % reply_text(code, text))
        if code != 250:
            print('result=data-failed')
            return 1
        step = 'quit'
        code, text = s.docmd('QUIT')
        print('quit=%s' % reply_text(code, text))
        s.close()
        print('result=ok')
        return 0
    except smtplib.SMTPResponseException as e:
        print('%s=%s' % (step, reply_text(e.smtp_code, e.smtp_error)))
        print('result=error in %s' % step)
        return 1
    except (OSError, smtplib.SMTPException) as e:
        print('error=%s: %s: %s' % (step, type(e).__name__, e))
        print('result=error in %s' % step)
        return 1
    finally:
        sys.stdout.flush()


def cmd_tls_check(a):
    """Handshake with a server (STARTTLS or implicit) and verify its
    certificate against --ca for --name: 0 verified, 3 verification
    failed, 1 other failure.  Used to prove the lab's certificates are
    what the tests believe they are."""
    ctx = ssl.create_default_context(cafile=a.ca)
    try:
        if a.implicit:
            raw = socket.create_connection((a.ip, a.port), timeout=10)
            ctx.wrap_socket(raw, server_hostname=a.name).close()
        else:
            s = smtplib.SMTP(a.ip, a.port, local_hostname='client.test',
                             timeout=10)
            s.ehlo()
            if not s.has_extn('starttls'):
                print('tls=not-offered')
                s.quit()
                return 4
            s.starttls(context=ctx)
            s.ehlo()
            print('tls_version=%s' % s.sock.version())
            s.quit()
    except ssl.SSLCertVerificationError as e:
        print('verify=failed %s' % e.verify_message)
        return 3
    except (OSError, smtplib.SMTPException) as e:
        print('error=%s: %s' % (type(e).__name__, e))
        return 1
    print('verify=ok')
    return 0


def cmd_check_msg(a):
    """Check a delivered message file: its body hash matches the
    X-Body-Sha256 header the sender computed."""
    with open(a.file, 'rb') as f:
        data = f.read().decode('utf-8', 'replace').replace('\r\n', '\n')
    head, _, body = data.partition('\n\n')
    want = None
    for line in head.split('\n'):
        if line.lower().startswith('x-body-sha256:'):
            want = line.split(':', 1)[1].strip()
    lines = body.split('\n')
    # Trailing empty lines are not compared: swaks ends its body with one.
    while lines and lines[-1] == '':
        lines.pop()
    got = body_hash(lines)
    print('body_sha256=%s' % got)
    print('want_sha256=%s' % want)
    return 0 if got == want else 1


def cmd_make_msg(a):
    """Print a message for a Maildir (LF line ends): Subject and Message-Id
    carry the id, the body starts with a marker line and holds lines that
    need dot-stuffing in POP3, and X-Body-Sha256 lets check-msg prove a
    fetched copy is intact."""
    body = ['body marker %s' % a.id] + make_body(a.body_kib, a.id)
    headers = [
        'From: <sender@client.test>',
        'To: <%s>' % a.rcpt,
        'Subject: tlshim test %s' % a.id,
        'Message-Id: <%s@client.test>' % a.id,
        'Date: %s' % time.strftime('%a, %d %b %Y %H:%M:%S +0000',
                                   time.gmtime()),
        'X-Tlshim-Test: %s' % a.id,
        'X-Body-Sha256: %s' % body_hash(body),
    ]
    sys.stdout.write('\n'.join(headers) + '\n\n' + '\n'.join(body) + '\n')
    return 0


def cmd_secrets(a):
    """Print, one a line, the forms a password takes on the wire in IMAP
    and POP3 (as is, and base64 of PLAIN and LOGIN exchanges), for grep."""
    u, p = a.user.encode(), a.password.encode()
    b64 = lambda b: base64.b64encode(b).decode()
    for form in (a.password, b64(b'\0' + u + b'\0' + p),
                 b64(u + b'\0' + u + b'\0' + p), b64(p)):
        print(form)
    return 0


def _text(x):
    """imaplib/poplib data (bytes, tuples, lists) as one line of text."""
    if x is None:
        return ''
    if isinstance(x, (bytes, bytearray)):
        return bytes(x).decode('utf-8', 'replace').replace('\r\n', ' | ')
    if isinstance(x, (list, tuple)):
        return ' | '.join(_text(i) for i in x if i is not None)
    return str(x)


def _out(key, value):
    print('%s=%s' % (key, _text(value)))
    sys.stdout.flush()


def _tls_context(ca):
    return ssl.create_default_context(cafile=ca) if ca else None


class _ImapGreeting:
    """Print the greeting as the server sent it, even when imaplib then
    refuses it (BYE)."""

    def _connect(self):
        try:
            return super()._connect()
        finally:
            if getattr(self, 'welcome', None) is not None:
                _out('greeting', self.welcome)


class _Imap(_ImapGreeting, imaplib.IMAP4):
    pass


class _ImapSSL(_ImapGreeting, imaplib.IMAP4_SSL):
    pass


def _save(path, data):
    if path:
        with open(path, 'wb') as f:
            f.write(data)


def cmd_imap(a):
    """One IMAP session with imaplib: greeting, CAPABILITY, optionally a
    STARTTLS probe (the client asks a relay for STARTTLS; it must not be
    accepted) or a real STARTTLS (--starttls, verified with --ca), login
    (LOGIN, AUTHENTICATE PLAIN, or with SASL-IR), LIST, SELECT INBOX, and
    the message with --id fetched (BODY.PEEK[]) and saved.

    Exit 0 when the message was fetched with its marker; 3 when the
    greeting was not OK (or there was none); 4 when the login was not
    OK; 1 on any other failure."""
    step = 'connect'
    m = None
    try:
        if a.implicit:
            m = _ImapSSL(a.host, a.port, ssl_context=_tls_context(a.ca),
                         timeout=a.timeout)
        else:
            m = _Imap(a.host, a.port, timeout=a.timeout)
    except (imaplib.IMAP4.error, OSError) as e:
        print('error=connect: %s: %s' % (type(e).__name__, e))
        print('result=no-ok-greeting')
        return 3
    try:
        _out('caps', ' '.join(m.capabilities))
        if a.starttls_probe:
            step = 'starttls-probe'
            try:
                typ, dat = m._simple_command('STARTTLS')
                _out('starttls', '%s %s' % (typ, _text(dat)))
                if typ == 'OK':
                    print('result=starttls-accepted')
                    return 1
            except imaplib.IMAP4.error as e:
                # imaplib raises on BAD: a refusal too.
                _out('starttls', 'BAD %s' % e)
        if a.starttls:
            step = 'starttls'
            m.starttls(ssl_context=_tls_context(a.ca))
            _out('tls_version', m.sock.version())
            _out('caps_after_tls', ' '.join(m.capabilities))
        if a.no_login:
            step = 'logout'
            typ, dat = m.logout()
            _out('logout', '%s %s' % (typ, _text(dat)))
            print('result=ok')
            return 0
        step = 'login'
        if a.auth == 'login':
            typ, dat = m._simple_command('LOGIN', a.user, m._quote(a.password))
        elif a.auth == 'login-sync-literal':
            # LOGIN user {N}: the client waits for "+" before the password.
            m.literal = a.password.encode()
            typ, dat = m._simple_command('LOGIN', a.user)
        elif a.auth == 'login-literal':
            # LOGIN user {N+}: LITERAL+, the password follows at once.
            tag = m._new_tag()
            pw = a.password.encode()
            m.send(tag + b' LOGIN ' + a.user.encode() +
                   b' {%d+}\r\n' % len(pw) + pw + b'\r\n')
            m.tagged_commands[tag] = None
            typ, dat = m._command_complete('LOGIN', tag)
        elif a.auth == 'plain':
            cred = b'\0' + a.user.encode() + b'\0' + a.password.encode()
            m.literal = imaplib._Authenticator(lambda _: cred).process
            typ, dat = m._simple_command('AUTHENTICATE', 'PLAIN')
        else:
            cred = base64.b64encode(b'\0' + a.user.encode() + b'\0' +
                                    a.password.encode()).decode()
            typ, dat = m._simple_command('AUTHENTICATE', 'PLAIN', cred)
        _out('login', '%s %s' % (typ, _text(dat)))
        if typ != 'OK':
            try:
                m.logout()
            except (imaplib.IMAP4.error, OSError):
                pass
            print('result=login-refused')
            return 4
        m.state = 'AUTH'
        step = 'list'
        typ, dat = m.list()
        _out('list', '%s %s' % (typ, _text(dat)))
        step = 'select'
        typ, dat = m.select('INBOX')
        _out('select', '%s %s' % (typ, _text(dat)))
        if typ != 'OK':
            print('result=select-failed')
            return 1
        step = 'search'
        typ, dat = m.search(None, 'SUBJECT', a.id)
        _out('search', '%s %s' % (typ, _text(dat)))
        nums = dat[0].split() if typ == 'OK' and dat and dat[0] else []
        if not nums:
            print('result=not-found')
            return 1
        step = 'fetch'
        typ, dat = m.fetch(nums[0], '(BODY.PEEK[])')
        msg = b''.join(d[1] for d in dat if isinstance(d, tuple))
        _out('fetch', '%s %d bytes' % (typ, len(msg)))
        _save(a.save, msg)
        marker = ('body marker %s' % a.id).encode()
        _out('marker', 'found' if marker in msg else 'missing')
        step = 'logout'
        typ, dat = m.logout()
        _out('logout', '%s %s' % (typ, _text(dat)))
        if marker not in msg:
            print('result=marker-missing')
            return 1
        print('result=ok')
        return 0
    except (imaplib.IMAP4.error, OSError) as e:
        print('error=%s: %s: %s' % (step, type(e).__name__, e))
        print('result=error in %s' % step)
        return 1
    finally:
        if m is not None:
            try:
                m.shutdown()
            except OSError:
                pass
        sys.stdout.flush()


def cmd_pop3(a):
    """One POP3 session with poplib: greeting, CAPA, optionally an STLS
    probe or a real STLS (--starttls), login (USER/PASS or AUTH PLAIN with
    an initial response), STAT, and the message with --id retrieved (RETR,
    so dot-stuffed lines come back unstuffed) and saved.

    Exit codes as for imap."""
    step = 'connect'
    try:
        if a.implicit:
            p = poplib.POP3_SSL(a.host, a.port, context=_tls_context(a.ca),
                                timeout=a.timeout)
        else:
            p = poplib.POP3(a.host, a.port, timeout=a.timeout)
    except poplib.error_proto as e:
        _out('greeting', e.args[0] if e.args else '')
        print('result=no-ok-greeting')
        return 3
    except OSError as e:
        print('error=connect: %s: %s' % (type(e).__name__, e))
        print('result=no-ok-greeting')
        return 3
    try:
        _out('greeting', p.welcome)
        step = 'capa'
        try:
            caps = p.capa()
            _out('capa', ' '.join(sorted(' '.join([k] + v)
                                         for k, v in caps.items())))
        except poplib.error_proto as e:
            _out('capa', 'error %s' % _text(e.args[0] if e.args else ''))
        if a.starttls_probe:
            step = 'stls-probe'
            try:
                resp = p._shortcmd('STLS')
                _out('stls', resp)
                print('result=stls-accepted')
                return 1
            except poplib.error_proto as e:
                _out('stls', e.args[0] if e.args else '')
        if a.starttls:
            step = 'stls'
            p.stls(_tls_context(a.ca))
            _out('tls_version', p.sock.version())
            caps = p.capa()
            _out('capa_after_tls', ' '.join(sorted(' '.join([k] + v)
                                                   for k, v in caps.items())))
        if a.no_login:
            step = 'quit'
            _out('quit', p.quit())
            print('result=ok')
            return 0
        step = 'login'
        try:
            if a.auth == 'user':
                _out('user', p.user(a.user))
                step = 'pass'
                _out('pass', p.pass_(a.password))
            elif a.auth == 'user-pipelined':
                # USER and PASS in one write, before any answer (RFC 2449
                # PIPELINING): both must be answered, in order.
                p.sock.sendall(b'USER ' + a.user.encode() + b'\r\nPASS ' +
                               a.password.encode() + b'\r\n')
                r1, r2 = p._getline()[0], p._getline()[0]
                _out('user', r1)
                _out('pass', r2)
                for r in (r1, r2):
                    if not r.startswith(b'+OK'):
                        raise poplib.error_proto(r)
            elif a.auth == 'plain':
                # AUTH PLAIN, then the credentials after the "+ ".
                _out('auth_cont', p._shortcmd('AUTH PLAIN'))
                cred = base64.b64encode(b'\0' + a.user.encode() + b'\0' +
                                        a.password.encode()).decode()
                _out('auth', p._shortcmd(cred))
            else:
                cred = base64.b64encode(b'\0' + a.user.encode() + b'\0' +
                                        a.password.encode()).decode()
                _out('auth', p._shortcmd('AUTH PLAIN ' + cred))
        except poplib.error_proto as e:
            _out('login', e.args[0] if e.args else '')
            _out('login_step', step)
            try:
                p.quit()
            except (poplib.error_proto, OSError):
                pass
            print('result=login-refused')
            return 4
        _out('login', 'OK')
        step = 'stat'
        count, size = p.stat()
        _out('stat', '%d %d' % (count, size))
        marker = ('body marker %s' % a.id).encode()
        msg = None
        for i in range(1, count + 1):
            step = 'retr %d' % i
            resp, lines, octets = p.retr(i)
            data = b'\n'.join(lines) + b'\n'
            if marker in data:
                _out('retr', '%s %d lines %d octets' % (_text(resp),
                                                        len(lines), octets))
                msg = data
                break
        _save(a.save, msg or b'')
        _out('marker', 'found' if msg else 'missing')
        step = 'quit'
        _out('quit', p.quit())
        if msg is None:
            print('result=marker-missing')
            return 1
        print('result=ok')
        return 0
    except (poplib.error_proto, OSError) as e:
        print('error=%s: %s: %s' % (step, type(e).__name__, _text(e.args[0] if e.args else e)))
        print('result=error in %s' % step)
        return 1
    finally:
        try:
            p.close()
        except OSError:
            pass
        sys.stdout.flush()


def main():
    p = argparse.ArgumentParser(prog='labtool.py')
    sub = p.add_subparsers(dest='cmd', required=True)

    q = sub.add_parser('ports')
    q.add_argument('ips')
    q.add_argument('n', type=int)
    q.add_argument('base', type=int)
    q.set_defaults(fn=cmd_ports)

    q = sub.add_parser('wait-listen')
    q.add_argument('ip')
    q.add_argument('port', type=int)
    q.add_argument('--timeout', type=float, default=10)
    q.add_argument('--pid', type=int, default=0)
    q.add_argument('--closed', action='store_true')
    q.set_defaults(fn=cmd_wait_listen)

    q = sub.add_parser('connect')
    q.add_argument('ip')
    q.add_argument('port', type=int)
    q.add_argument('--timeout', type=float, default=3)
    q.set_defaults(fn=cmd_connect)

    q = sub.add_parser('send')
    q.add_argument('host')
    q.add_argument('port', type=int)
    q.add_argument('--id', required=True)
    q.add_argument('--helo', default='client.test')
    q.add_argument('--mail-from', default='sender@client.test')
    q.add_argument('--rcpt', default='rcpt@tlshim.test')
    q.add_argument('--timeout', type=float, default=10)
    q.add_argument('--body-kib', type=int, default=0)
    q.add_argument('--starttls-probe', action='store_true')
    q.add_argument('--auth-plain', action='store_true')
    q.add_argument('--no-mail', action='store_true')
    q.add_argument('--ready-file')
    q.add_argument('--go-file')
    q.add_argument('--go-timeout', type=float, default=30)
    q.set_defaults(fn=cmd_send)

    q = sub.add_parser('tls-check')
    q.add_argument('ip')
    q.add_argument('port', type=int)
    q.add_argument('--ca', required=True)
    q.add_argument('--name', required=True)
    q.add_argument('--implicit', action='store_true')
    q.set_defaults(fn=cmd_tls_check)

    q = sub.add_parser('check-msg')
    q.add_argument('file')
    q.set_defaults(fn=cmd_check_msg)

    q = sub.add_parser('make-msg')
    q.add_argument('--id', required=True)
    q.add_argument('--rcpt', default='labuser@tlshim.test')
    q.add_argument('--body-kib', type=int, default=0)
    q.set_defaults(fn=cmd_make_msg)

    q = sub.add_parser('secrets')
    q.add_argument('user')
    q.add_argument('password')
    q.set_defaults(fn=cmd_secrets)

    for name, fn, auths in (('imap', cmd_imap, ('login', 'login-literal',
                                                 'login-sync-literal',
                                                 'plain', 'plain-ir')),
                            ('pop3', cmd_pop3, ('user', 'user-pipelined',
                                                 'plain', 'plain-ir'))):
        q = sub.add_parser(name)
        q.add_argument('host')
        q.add_argument('port', type=int)
        q.add_argument('--id', required=True)
        q.add_argument('--user', required=True)
        q.add_argument('--password', required=True)
        q.add_argument('--auth', choices=auths, default=auths[0])
        q.add_argument('--timeout', type=float, default=15)
        q.add_argument('--implicit', action='store_true')
        q.add_argument('--starttls', action='store_true')
        q.add_argument('--starttls-probe', action='store_true')
        q.add_argument('--ca')
        q.add_argument('--no-login', action='store_true')
        q.add_argument('--save')
        q.set_defaults(fn=fn)

    a = p.parse_args()
    sys.exit(a.fn(a))


if __name__ == '__main__':
    main()
