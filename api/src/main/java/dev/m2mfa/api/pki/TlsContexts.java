package dev.m2mfa.api.pki;

import java.security.KeyStore;
import java.security.PrivateKey;
import java.security.cert.X509Certificate;
import java.util.List;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManagerFactory;

/**
 * TLS 1.3 contexts that trust exactly the given root and optionally present a key and chain.
 * The key manager is {@code SunX509}: the default PKIX one re-reads its key store on every
 * handshake, several times slower here.
 */
public final class TlsContexts {
  private TlsContexts() {}

  /** Trusts {@code root} only; presents {@code chain} with {@code key} when both are non-null. */
  public static SSLContext create(X509Certificate root, List<X509Certificate> chain, PrivateKey key) {
    try {
      KeyStore trust = KeyStore.getInstance("PKCS12");
      trust.load(null, null);
      trust.setCertificateEntry("root", root);
      TrustManagerFactory tmf = TrustManagerFactory.getInstance("PKIX");
      tmf.init(trust);
      KeyManagerFactory kmf = null;
      if (chain != null && key != null) {
        KeyStore ks = KeyStore.getInstance("PKCS12");
        ks.load(null, null);
        ks.setKeyEntry("key", key, new char[0], chain.toArray(X509Certificate[]::new));
        kmf = KeyManagerFactory.getInstance("SunX509");
        kmf.init(ks, new char[0]);
      }
      SSLContext ctx = SSLContext.getInstance("TLSv1.3");
      ctx.init(kmf == null ? null : kmf.getKeyManagers(), tmf.getTrustManagers(), null);
      return ctx;
    } catch (Exception e) {
      throw new IllegalStateException("cannot build the TLS context", e);
    }
  }
}
