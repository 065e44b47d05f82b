package dev.m2mfa.agent.keys;

import dev.m2mfa.api.pki.TlsContexts;
import java.net.Socket;
import java.security.KeyStore;
import java.security.Principal;
import java.security.PrivateKey;
import java.security.cert.X509Certificate;
import java.util.List;
import javax.net.ssl.KeyManager;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.TrustManagerFactory;
import javax.net.ssl.X509ExtendedKeyManager;

/**
 * The agent's TLS context for a key handle. A key JSSE can hold in a key store (software)
 * goes through {@link TlsContexts}; a token key (PKCS#11: no encoding) is presented by a
 * one-entry key manager, and JSSE signs the handshake through the token's provider. A handle
 * without a TLS key gives a context with no client certificate.
 */
public final class ClientTls {
  private ClientTls() {}

  public static SSLContext context(X509Certificate root, List<X509Certificate> chain, MachineSigner key) {
    PrivateKey tlsKey = chain == null ? null : key.tlsKey().orElse(null);
    if (tlsKey == null || tlsKey.getEncoded() != null) return TlsContexts.create(root, chain, tlsKey);
    try {
      KeyStore trust = KeyStore.getInstance("PKCS12");
      trust.load(null, null);
      trust.setCertificateEntry("root", root);
      TrustManagerFactory tmf = TrustManagerFactory.getInstance("PKIX");
      tmf.init(trust);
      SSLContext ctx = SSLContext.getInstance("TLSv1.3");
      ctx.init(new KeyManager[] {new OneKey(tlsKey, chain.toArray(X509Certificate[]::new))}, tmf.getTrustManagers(), null);
      return ctx;
    } catch (Exception e) {
      throw new IllegalStateException("cannot build the TLS context", e);
    }
  }

  /** Presents one key and chain, whatever the server asks. */
  private static final class OneKey extends X509ExtendedKeyManager {
    private final PrivateKey key;
    private final X509Certificate[] chain;

    OneKey(PrivateKey key, X509Certificate[] chain) {
      this.key = key;
      this.chain = chain;
    }

    @Override
    public String[] getClientAliases(String keyType, Principal[] issuers) {
      return new String[] {"machine"};
    }

    @Override
    public String chooseClientAlias(String[] keyType, Principal[] issuers, Socket socket) {
      return "machine";
    }

    @Override
    public String chooseEngineClientAlias(String[] keyType, Principal[] issuers, SSLEngine engine) {
      return "machine";
    }

    @Override
    public String[] getServerAliases(String keyType, Principal[] issuers) {
      return null;
    }

    @Override
    public String chooseServerAlias(String keyType, Principal[] issuers, Socket socket) {
      return null;
    }

    @Override
    public X509Certificate[] getCertificateChain(String alias) {
      return "machine".equals(alias) ? chain.clone() : null;
    }

    @Override
    public PrivateKey getPrivateKey(String alias) {
      return "machine".equals(alias) ? key : null;
    }
  }
}
