/*
 * tlsa.c - `tlshim tlsa --cert FILE`: the TLSA records an operator should
 * publish for a server certificate (RFC 7671, 7672).
 *
 *   tlshim tlsa --cert FILE [--ca] [--selector 0|1] [--mtype 1|2]
 *               [--port N]
 *
 * FILE holds one certificate or a chain (PEM, leaf first, as the server
 * sends it), or one DER certificate.  Printed: "3 1 1 <hex>" for the leaf
 * (DANE-EE), and with a chain "2 1 1 <hex>" for its topmost certificate
 * (DANE-TA: the server must send that certificate, RFC 7671 5.2.2); with
 * --ca the first certificate is a CA and gets "2 1 1" too.  Then the same
 * records as zone file lines at _PORT._tcp.<the leaf's first DNS name>.
 * The records are computed by shim/dane.c, the code that checks them.
 *
 * Exit status 0, or 3 with a message on stderr: unreadable file, no
 * certificate in it, bad arguments.
 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gnutls/gnutls.h>
#include <gnutls/x509.h>

#include "shim/dane.h"
#include "tool/tool.h"

#define EXIT_ERR	3
#define FILE_MAX	(1024 * 1024)	/* a certificate file, at most */
#define RECORD_MAX	(12 + 2 * 64 + 1)	/* "u s m " and a SHA2-512 */

struct tlsa_opts {
	const char	*file;
	bool		 ca;
	unsigned	 selector, mtype, port;
};

static void
usage(FILE *f)
{
	fprintf(f, "usage: tlshim tlsa --cert FILE [--ca] [--selector 0|1] "
	    "[--mtype 1|2] [--port N]\n"
	    "  --cert FILE     PEM (a chain, leaf first) or DER certificate\n"
	    "  --ca            the first certificate is a CA: DANE-TA (2)\n"
	    "  --selector 0|1  0 the whole certificate, 1 its public key "
	    "(default)\n"
	    "  --mtype 1|2     1 SHA2-256 (default), 2 SHA2-512\n"
	    "  --port N        port of the owner name _N._tcp (default 25)\n");
}

/* number - a decimal option value in [min, max] into *v */
static bool
number(const char *opt, const char *s, unsigned min, unsigned max,
    unsigned *v)
{
	char *end;
	unsigned long n;

	errno = 0;
	n = strtoul(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || *s == '-' || n < min ||
	    n > max) {
		fprintf(stderr, "tlshim tlsa: %s must be a number from %u to "
		    "%u\n", opt, min, max);
		return false;
	}
	*v = (unsigned)n;
	return true;
}

/* read_file - the whole of a (small) file into d; false with a message */
static bool
read_file(const char *path, gnutls_datum_t *d)
{
	FILE *f;
	size_t n;

	if ((f = fopen(path, "rb")) == NULL) {
		fprintf(stderr, "tlshim tlsa: %s: %s\n", path, strerror(errno));
		return false;
	}
	if ((d->data = malloc(FILE_MAX + 1)) == NULL) {
		fclose(f);
		fprintf(stderr, "tlshim tlsa: out of memory\n");
		return false;
	}
	n = fread(d->data, 1, FILE_MAX + 1, f);
	if (ferror(f) || n > FILE_MAX) {
		fprintf(stderr, "tlshim tlsa: %s: %s\n", path, ferror(f) ?
		    strerror(errno) : "larger than 1 MiB: not a certificate");
		fclose(f);
		free(d->data);
		return false;
	}
	fclose(f);
	d->size = (unsigned)n;
	return true;
}

/*
 * load_certs - the certificates of a file: a PEM list (any other PEM
 * blocks, such as a key, are skipped) or a single DER certificate.
 */
static bool
load_certs(const char *path, gnutls_x509_crt_t **crts, unsigned *n)
{
	gnutls_datum_t d;
	int rc;

	*crts = NULL;
	*n = 0;
	if (!read_file(path, &d))
		return false;
	if (memmem(d.data, d.size, "-----BEGIN ", 11) != NULL) {
		rc = gnutls_x509_crt_list_import2(crts, n, &d,
		    GNUTLS_X509_FMT_PEM, 0);
		if (rc == GNUTLS_E_NO_CERTIFICATE_FOUND ||
		    (rc >= 0 && *n == 0)) {
			fprintf(stderr, "tlshim tlsa: %s: no certificate in "
			    "it\n", path);
			rc = -1;
		} else if (rc < 0)
			fprintf(stderr, "tlshim tlsa: %s: %s\n", path,
			    gnutls_strerror(rc));
	} else {
		rc = gnutls_x509_crt_list_import2(crts, n, &d,
		    GNUTLS_X509_FMT_DER, 0);
		if (rc < 0 || *n == 0) {
			fprintf(stderr, "tlshim tlsa: %s: no certificate in "
			    "it (neither PEM nor a DER certificate)\n", path);
			rc = -1;
		}
	}
	free(d.data);
	return rc >= 0;
}

/* owner_name - the leaf's first DNS name that can own records (not a
 * wildcard, host name characters only), or false */
static bool
owner_name(gnutls_x509_crt_t crt, char *out, size_t len)
{
	char name[256];
	size_t size, i;
	unsigned seq;
	int type;
	bool ok;

	for (seq = 0;; seq++) {
		size = sizeof(name);
		type = gnutls_x509_crt_get_subject_alt_name(crt, seq, name,
		    &size, NULL);
		if (type == GNUTLS_E_REQUESTED_DATA_NOT_AVAILABLE)
			return false;
		if (type != GNUTLS_SAN_DNSNAME || size == 0 ||
		    size >= sizeof(name))
			continue;
		name[size] = '\0';
		ok = name[0] != '.' && name[size - 1] != '.';
		for (i = 0; i < size && ok; i++)
			ok = (name[i] >= 'a' && name[i] <= 'z') ||
			    (name[i] >= 'A' && name[i] <= 'Z') ||
			    (name[i] >= '0' && name[i] <= '9') ||
			    name[i] == '-' || name[i] == '.' || name[i] == '_';
		if (ok && (size_t)snprintf(out, len, "%s", name) < len)
			return true;
	}
}

/* record - the record for crt with usage into out; false with a message */
static bool
record(gnutls_x509_crt_t crt, unsigned usage, const struct tlsa_opts *o,
    char *out, size_t outlen)
{
	gnutls_datum_t der;
	char why[256];
	bool ok;
	int rc;

	if ((rc = gnutls_x509_crt_export2(crt, GNUTLS_X509_FMT_DER,
	    &der)) < 0) {
		fprintf(stderr, "tlshim tlsa: %s: %s\n", o->file,
		    gnutls_strerror(rc));
		return false;
	}
	ok = dane_record_make(&der, usage, o->selector, o->mtype, out,
	    outlen, why, sizeof(why));
	gnutls_free(der.data);
	if (!ok)
		fprintf(stderr, "tlshim tlsa: %s: %s\n", o->file, why);
	return ok;
}

/* warn_not_ca - a DANE-TA record for a certificate that cannot issue */
static void
warn_not_ca(gnutls_x509_crt_t crt, const char *file, unsigned i)
{
	unsigned critical;

	if (gnutls_x509_crt_get_ca_status(crt, &critical) <= 0)
		fprintf(stderr, "tlshim tlsa: warning: certificate %u of %s "
		    "is not a CA certificate: a 2 x x record for it will "
		    "not authenticate anything\n", i + 1, file);
}

/* print - the records for the certificates of the file */
static int
print(const struct tlsa_opts *o, gnutls_x509_crt_t *crts, unsigned n)
{
	char recs[2][RECORD_MAX], host[256];
	unsigned nrec = 0, i;

	if (!record(crts[0], o->ca ? 2 : 3, o, recs[nrec++], RECORD_MAX))
		return EXIT_ERR;
	if (o->ca)
		warn_not_ca(crts[0], o->file, 0);
	if (n > 1) {
		if (!record(crts[n - 1], 2, o, recs[nrec++], RECORD_MAX))
			return EXIT_ERR;
		warn_not_ca(crts[n - 1], o->file, n - 1);
	}
	for (i = 0; i < nrec; i++)
		printf("%s\n", recs[i]);
	if (o->ca)
		printf("; publish at _%u._tcp.<each server's host name>.\n",
		    o->port);
	else if (owner_name(crts[0], host, sizeof(host))) {
		for (i = 0; i < nrec; i++)
			printf("_%u._tcp.%s. IN TLSA %s\n", o->port, host,
			    recs[i]);
	} else
		printf("; the certificate names no host: publish at "
		    "_%u._tcp.<the server's host name>.\n", o->port);
	return fflush(stdout) == 0 ? 0 : EXIT_ERR;
}

/* tool_tlsa - `tlshim tlsa`: see the head of this file */
int
tool_tlsa(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "cert",	required_argument,	NULL,	'c' },
		{ "ca",		no_argument,		NULL,	'a' },
		{ "selector",	required_argument,	NULL,	's' },
		{ "mtype",	required_argument,	NULL,	'm' },
		{ "port",	required_argument,	NULL,	'p' },
		{ "help",	no_argument,		NULL,	'h' },
		{ NULL,		0,			NULL,	0 }
	};
	struct tlsa_opts o = { NULL, false, 1, 1, 25 };
	gnutls_x509_crt_t *crts;
	unsigned n, i;
	int ch, rc;

	optind = 1;
	while ((ch = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (ch) {
		case 'c':
			o.file = optarg;
			break;
		case 'a':
			o.ca = true;
			break;
		case 's':
			if (!number("--selector", optarg, 0, 1, &o.selector))
				return EXIT_ERR;
			break;
		case 'm':
			if (!number("--mtype", optarg, 1, 2, &o.mtype))
				return EXIT_ERR;
			break;
		case 'p':
			if (!number("--port", optarg, 1, 65535, &o.port))
				return EXIT_ERR;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return EXIT_ERR;
		}
	}
	if (o.file == NULL || optind != argc) {
		fprintf(stderr, "tlshim tlsa: %s\n", o.file == NULL ?
		    "--cert FILE is needed" : "unexpected arguments");
		usage(stderr);
		return EXIT_ERR;
	}
	if (!load_certs(o.file, &crts, &n))
		return EXIT_ERR;
	rc = print(&o, crts, n);
	for (i = 0; i < n; i++)
		gnutls_x509_crt_deinit(crts[i]);
	gnutls_free(crts);
	return rc;
}
