package dev.m2mfa.api.pki;

import java.io.IOException;
import java.io.StringReader;
import java.io.StringWriter;
import java.security.PublicKey;
import java.security.cert.CertificateException;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.io.ByteArrayInputStream;
import java.util.ArrayList;
import java.util.List;
import org.bouncycastle.openssl.PEMParser;
import org.bouncycastle.openssl.jcajce.JcaPEMWriter;
import org.bouncycastle.pkcs.PKCS10CertificationRequest;

/** PEM encoding and bounded, strict PEM parsing. */
public final class Pem {
  /** PEM inputs larger than this are refused before parsing. */
  public static final int MAX_PEM_CHARS = 32 * 1024;

  private Pem() {}

  public static String encode(Object... objects) {
    StringWriter out = new StringWriter();
    try (JcaPEMWriter w = new JcaPEMWriter(out)) {
      for (Object o : objects) w.writeObject(o);
    } catch (IOException e) {
      throw new IllegalStateException(e);
    }
    return out.toString();
  }

  public static String encodeChain(List<X509Certificate> chain) {
    return encode(chain.toArray());
  }

  public static List<X509Certificate> certificates(String pem) {
    checkSize(pem);
    try {
      CertificateFactory cf = CertificateFactory.getInstance("X.509");
      List<X509Certificate> out = new ArrayList<>();
      for (var c : cf.generateCertificates(new ByteArrayInputStream(pem.getBytes(java.nio.charset.StandardCharsets.US_ASCII)))) {
        out.add((X509Certificate) c);
      }
      if (out.isEmpty()) throw new IllegalArgumentException("no certificate in PEM");
      return out;
    } catch (CertificateException | RuntimeException e) {
      throw new IllegalArgumentException("not a PEM certificate");
    }
  }

  public static X509Certificate certificate(String pem) {
    return certificates(pem).getFirst();
  }

  /** Parses one PKCS#10 request; refuses anything else. */
  public static PKCS10CertificationRequest csr(String pem) {
    checkSize(pem);
    try (PEMParser p = new PEMParser(new StringReader(pem))) {
      Object o = p.readObject();
      if (o instanceof PKCS10CertificationRequest r) return r;
    } catch (IOException | RuntimeException e) {
      // fall through
    }
    throw new IllegalArgumentException("not a PEM certificate signing request");
  }

  public static PublicKey publicKey(String pem) {
    checkSize(pem);
    try (PEMParser p = new PEMParser(new StringReader(pem))) {
      Object o = p.readObject();
      if (o instanceof org.bouncycastle.asn1.x509.SubjectPublicKeyInfo spki) {
        return new org.bouncycastle.openssl.jcajce.JcaPEMKeyConverter().getPublicKey(spki);
      }
    } catch (IOException | RuntimeException e) {
      // fall through
    }
    throw new IllegalArgumentException("not a PEM public key");
  }

  private static void checkSize(String pem) {
    if (pem == null || pem.length() > MAX_PEM_CHARS) throw new IllegalArgumentException("PEM missing or too large");
  }
}
