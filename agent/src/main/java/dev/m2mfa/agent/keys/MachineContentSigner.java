package dev.m2mfa.agent.keys;

import java.io.ByteArrayOutputStream;
import java.io.OutputStream;
import org.bouncycastle.asn1.x509.AlgorithmIdentifier;
import org.bouncycastle.operator.ContentSigner;
import org.bouncycastle.operator.DefaultSignatureAlgorithmIdentifierFinder;

/** Adapts a {@link MachineSigner} to BouncyCastle's {@link ContentSigner} (for the enrollment CSR), whatever provider holds the key. */
public final class MachineContentSigner implements ContentSigner {
  private static final AlgorithmIdentifier ES256 = new DefaultSignatureAlgorithmIdentifierFinder().find("SHA256withECDSA");
  private final MachineSigner signer;
  private final ByteArrayOutputStream buffer = new ByteArrayOutputStream();

  public MachineContentSigner(MachineSigner signer) {
    this.signer = signer;
  }

  @Override
  public AlgorithmIdentifier getAlgorithmIdentifier() {
    return ES256;
  }

  @Override
  public OutputStream getOutputStream() {
    return buffer;
  }

  @Override
  public byte[] getSignature() {
    return signer.sign(buffer.toByteArray());
  }
}
