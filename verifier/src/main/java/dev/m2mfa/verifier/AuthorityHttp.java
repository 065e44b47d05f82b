package dev.m2mfa.verifier;

import java.io.IOException;
import java.io.InputStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.security.GeneralSecurityException;
import java.security.KeyStore;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.util.List;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLParameters;
import javax.net.ssl.TrustManagerFactory;

/**
 * The HTTPS client that talks to the authority: TLS 1.3 only, server certificate checked
 * against the configured trust anchors only (not the JVM's default CAs), host name verified,
 * no proxy, no redirects.
 */
final class AuthorityHttp implements AutoCloseable {

    static final Duration CONNECT_TIMEOUT = Duration.ofSeconds(5);
    static final Duration REQUEST_TIMEOUT = Duration.ofSeconds(5);

    private final HttpClient client;

    AuthorityHttp(List<X509Certificate> trustAnchors) {
        SSLParameters params = new SSLParameters();
        params.setProtocols(new String[] {"TLSv1.3"});
        params.setEndpointIdentificationAlgorithm("HTTPS");
        this.client = HttpClient.newBuilder()
                .sslContext(sslContext(trustAnchors))
                .sslParameters(params)
                .version(HttpClient.Version.HTTP_1_1)
                .followRedirects(HttpClient.Redirect.NEVER)
                .connectTimeout(CONNECT_TIMEOUT)
                .build();
    }

    static SSLContext sslContext(List<X509Certificate> trustAnchors) {
        try {
            KeyStore ks = KeyStore.getInstance("PKCS12");
            ks.load(null, null);
            for (int i = 0; i < trustAnchors.size(); i++) {
                ks.setCertificateEntry("anchor-" + i, trustAnchors.get(i));
            }
            TrustManagerFactory tmf = TrustManagerFactory.getInstance("PKIX");
            tmf.init(ks);
            SSLContext ctx = SSLContext.getInstance("TLSv1.3");
            ctx.init(null, tmf.getTrustManagers(), null);
            return ctx;
        } catch (GeneralSecurityException | IOException e) {
            throw new IllegalStateException("Could not build a TLS context from the trust anchors.", e);
        }
    }

    /** GETs {@code uri} and returns the body if the status is 200 and it fits in {@code maxBytes}. */
    byte[] getBounded(URI uri, int maxBytes) throws IOException, InterruptedException {
        HttpRequest req = HttpRequest.newBuilder(uri).GET().timeout(REQUEST_TIMEOUT)
                .header("Accept", "application/json").build();
        HttpResponse<InputStream> resp = client.send(req, HttpResponse.BodyHandlers.ofInputStream());
        try (InputStream in = resp.body()) {
            if (resp.statusCode() != 200) {
                throw new IOException("GET " + uri + " answered " + resp.statusCode() + ".");
            }
            byte[] body = in.readNBytes(maxBytes + 1);
            if (body.length > maxBytes) {
                throw new IOException("GET " + uri + " answered more than " + maxBytes + " bytes.");
            }
            return body;
        }
    }

    /** Opens a long-lived GET; the caller reads and closes the body. */
    HttpResponse<InputStream> openStream(URI uri, String accept) throws IOException, InterruptedException {
        HttpRequest req = HttpRequest.newBuilder(uri).GET().timeout(REQUEST_TIMEOUT)
                .header("Accept", accept).build();
        return client.send(req, HttpResponse.BodyHandlers.ofInputStream());
    }

    @Override
    public void close() {
        client.shutdownNow();
    }
}
