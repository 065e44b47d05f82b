package dev.m2mfa.authority.token;

import java.security.Provider;
import org.bouncycastle.jce.provider.BouncyCastleProvider;

/**
 * The JCA provider for ES256 on the hot paths. BouncyCastle's P-256 is several times faster
 * than the JDK's here (docs/PERFORMANCE.md has the measurements).
 */
public final class Crypto {
  private static final Provider BC = new BouncyCastleProvider();

  private Crypto() {}

  public static Provider provider() {
    return BC;
  }
}
