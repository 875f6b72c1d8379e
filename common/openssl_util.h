// Small OpenSSL helpers the TLS files share (tls.cpp, tls_certs.cpp):
// owning pointers for libcrypto objects, the error queue as a message, PEM
// reading that never prompts for a passphrase, and dates as text.
// Thread safety: free functions; OpenSSL's error queue is per thread.
#pragma once

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include <memory>
#include <string>

namespace orch::ossl {

struct BioFree {
  void operator()(BIO* p) const { BIO_free_all(p); }
};
struct X509Free {
  void operator()(X509* p) const { X509_free(p); }
};
struct PkeyFree {
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
};
using BioPtr = std::unique_ptr<BIO, BioFree>;
using X509Ptr = std::unique_ptr<X509, X509Free>;
using PkeyPtr = std::unique_ptr<EVP_PKEY, PkeyFree>;

// The oldest error on this thread's OpenSSL queue (usually the cause, e.g.
// "no start line"); empties the queue.
std::string TakeError();

// A passphrase callback that refuses: an encrypted key fails to load
// instead of prompting on the terminal.
int NoPassphrase(char*, int, int, void*);

// A read-only memory BIO over `text` (which must outlive it).
BioPtr MemBio(const std::string& text);

// "2024-01-31 12:00:00 UTC"
std::string FormatTime(const ASN1_TIME* t);

}  // namespace orch::ossl
