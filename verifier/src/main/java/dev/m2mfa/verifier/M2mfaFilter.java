package dev.m2mfa.verifier;

import com.nimbusds.jose.util.JSONObjectUtils;
import dev.m2mfa.verifier.TokenRejectedException.Category;
import dev.m2mfa.verifier.TokenRejectedException.Reason;
import jakarta.servlet.Filter;
import jakarta.servlet.FilterChain;
import jakarta.servlet.ServletException;
import jakarta.servlet.ServletRequest;
import jakarta.servlet.ServletResponse;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;
import java.io.IOException;
import java.lang.System.Logger.Level;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.security.cert.X509Certificate;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Comparator;
import java.util.Enumeration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;

/**
 * A servlet filter that lets a request through only with an access token that
 * {@link TokenVerifier#verify verifies} against the requirements of the request's route.
 *
 * <p>Routes are path prefixes matched on whole segments ({@code /admin} matches
 * {@code /admin} and {@code /admin/x}, not {@code /administrator}); the longest one wins. A
 * path that no route matches still needs a valid token, with no factor or acr requirement: the
 * filter never lets a request through without one. Paths are the container's decoded,
 * normalized servlet path plus path info, so {@code /public/../admin} is matched as
 * {@code /admin}.
 *
 * <p>On success the {@link VerifiedToken} is the request attribute {@value #TOKEN_ATTRIBUTE}.
 * On refusal the response is the status, {@code WWW-Authenticate} challenge and an RFC 9457
 * {@code application/problem+json} body of the refusal's {@link Category}, and nothing
 * else: no reason, no exception message beyond the category's title, no stack trace.
 *
 * <p>The DPoP {@code htu} is compared with the request URL as the container reconstructs it
 * (from the {@code Host} header), or, if set, with {@link Builder#publicBaseUri} plus the
 * request path: set it when the service sits behind a proxy or should not rely on
 * {@code Host}.
 */
public final class M2mfaFilter implements Filter {

    /** The request attribute holding the {@link VerifiedToken} after a successful check. */
    public static final String TOKEN_ATTRIBUTE = "m2mfa.token";

    static final String CLIENT_CERT_ATTRIBUTE = "jakarta.servlet.request.X509Certificate";

    private static final System.Logger LOG = System.getLogger(M2mfaFilter.class.getName());

    private record Route(String prefix, Set<String> requiredAmr, String minimumAcr) {
        boolean matches(String path) {
            return prefix.equals("/") || path.equals(prefix) || path.startsWith(prefix + "/");
        }
    }

    private static final Route ANY_VALID_TOKEN = new Route("/", Set.of(), null);

    private final TokenVerifier verifier;
    private final List<Route> routes; // longest prefix first
    private final URI publicBaseUri;

    private M2mfaFilter(TokenVerifier verifier, List<Route> routes, URI publicBaseUri) {
        this.verifier = verifier;
        this.routes = routes;
        this.publicBaseUri = publicBaseUri;
    }

    /** A builder for a filter using {@code verifier} (whose lifecycle stays the caller's). */
    public static Builder builder(TokenVerifier verifier) {
        return new Builder(Objects.requireNonNull(verifier, "verifier"));
    }

    @Override
    public void doFilter(ServletRequest request, ServletResponse response, FilterChain chain)
            throws IOException, ServletException {
        if (!(request instanceof HttpServletRequest req) || !(response instanceof HttpServletResponse resp)) {
            throw new ServletException("M2mfaFilter handles HTTP requests only.");
        }
        VerifiedToken token;
        try {
            token = verifier.verify(tokenRequest(req));
        } catch (TokenRejectedException e) {
            refuse(resp, e);
            return;
        } catch (RuntimeException e) {
            LOG.log(Level.ERROR, "m2mfa filter: token verification failed unexpectedly", e);
            writeProblem(resp, 500, "https://m2mfa.dev/problems/internal-error", "Internal error");
            return;
        } catch (HeaderException e) {
            refuse(resp, verifier.refuse(e.reason));
            return;
        }
        req.setAttribute(TOKEN_ATTRIBUTE, token);
        chain.doFilter(req, resp);
    }

    /** Thrown for requests that cannot be expressed as one {@link TokenRequest}. */
    private static final class HeaderException extends Exception {
        private static final long serialVersionUID = 1L;
        private final transient Reason reason;

        HeaderException(Reason reason) {
            super(null, null, false, false);
            this.reason = reason;
        }
    }

    private TokenRequest tokenRequest(HttpServletRequest req) throws HeaderException {
        String authorization = single(req, "Authorization", Reason.MALFORMED);
        String dpop = single(req, "DPoP", Reason.BAD_PROOF); // RFC 9449 4.3: exactly one proof
        Route route = route(path(req));
        URI uri;
        try {
            uri = publicBaseUri != null
                    ? URI.create(publicBaseUri.getScheme() + "://" + publicBaseUri.getRawAuthority() + req.getRequestURI())
                    : URI.create(req.getRequestURL().toString());
        } catch (IllegalArgumentException e) {
            throw new HeaderException(Reason.MALFORMED);
        }
        Object certs = req.getAttribute(CLIENT_CERT_ATTRIBUTE);
        X509Certificate cert = certs instanceof X509Certificate[] chain && chain.length > 0 ? chain[0] : null;
        try {
            return new TokenRequest(authorization, dpop, req.getMethod(), uri, cert, route.requiredAmr(),
                    route.minimumAcr());
        } catch (IllegalArgumentException e) {
            throw new HeaderException(Reason.MALFORMED);
        }
    }

    private static String single(HttpServletRequest req, String name, Reason ifRepeated) throws HeaderException {
        Enumeration<String> values = req.getHeaders(name);
        if (values == null || !values.hasMoreElements()) {
            return null;
        }
        String first = values.nextElement();
        if (values.hasMoreElements()) {
            throw new HeaderException(ifRepeated);
        }
        return first;
    }

    private static String path(HttpServletRequest req) {
        String servletPath = req.getServletPath() == null ? "" : req.getServletPath();
        String pathInfo = req.getPathInfo() == null ? "" : req.getPathInfo();
        String path = servletPath + pathInfo;
        return path.isEmpty() ? "/" : path;
    }

    private Route route(String path) {
        for (Route r : routes) {
            if (r.matches(path)) {
                return r;
            }
        }
        return ANY_VALID_TOKEN;
    }

    private static void refuse(HttpServletResponse resp, TokenRejectedException e) throws IOException {
        e.wwwAuthenticate().ifPresent(c -> resp.setHeader("WWW-Authenticate", c));
        if (e.httpStatus() == 503) {
            resp.setHeader("Retry-After", "1");
        }
        Category c = e.category();
        writeProblem(resp, c.httpStatus(), c.problemType(), c.title());
    }

    private static void writeProblem(HttpServletResponse resp, int status, String type, String title)
            throws IOException {
        Map<String, Object> problem = new LinkedHashMap<>();
        problem.put("type", type);
        problem.put("title", title);
        problem.put("status", status);
        byte[] body = JSONObjectUtils.toJSONString(problem).getBytes(StandardCharsets.UTF_8);
        resp.setStatus(status);
        resp.setHeader("Cache-Control", "no-store");
        resp.setContentType("application/problem+json");
        resp.setContentLength(body.length);
        resp.getOutputStream().write(body);
    }

    /** Configures the routes of an {@link M2mfaFilter}. */
    public static final class Builder {
        private final TokenVerifier verifier;
        private final List<Route> routes = new ArrayList<>();
        private URI publicBaseUri;

        private Builder(TokenVerifier verifier) {
            this.verifier = verifier;
        }

        /**
         * Requires, for paths under {@code pathPrefix}, a token whose {@code amr} contains all of
         * {@code requiredAmr} and whose {@code acr} is at least {@code minimumAcr} (null: any).
         */
        public Builder route(String pathPrefix, Set<String> requiredAmr, String minimumAcr) {
            if (pathPrefix == null || !pathPrefix.startsWith("/")) {
                throw new IllegalArgumentException("A route's path prefix must start with '/': " + pathPrefix + ".");
            }
            String prefix = pathPrefix.length() > 1 && pathPrefix.endsWith("/")
                    ? pathPrefix.substring(0, pathPrefix.length() - 1) : pathPrefix;
            if (prefix.contains("//") || prefix.contains("/./") || prefix.contains("/../") || prefix.endsWith("/..")
                    || prefix.endsWith("/.")) {
                throw new IllegalArgumentException("A route's path prefix must be a normalized path: " + pathPrefix + ".");
            }
            for (Route r : routes) {
                if (r.prefix().equals(prefix)) {
                    throw new IllegalArgumentException("The route " + prefix + " is configured twice.");
                }
            }
            Set<String> amr = requiredAmr == null ? Set.of() : Set.copyOf(requiredAmr);
            for (String f : amr) {
                Names.checkName("A required factor name", f);
            }
            if (minimumAcr != null && !verifier.acrOrder().contains(minimumAcr)) {
                throw new IllegalArgumentException("The minimum acr \"" + minimumAcr + "\" of route " + prefix
                        + " is not in the verifier's acr order " + verifier.acrOrder() + ".");
            }
            routes.add(new Route(prefix, amr, minimumAcr));
            return this;
        }

        /**
         * The external {@code scheme://host[:port]} of this service, used instead of the
         * {@code Host} header to rebuild the URI that DPoP proofs must name.
         */
        public Builder publicBaseUri(URI base) {
            if (base == null || base.getHost() == null
                    || !("https".equalsIgnoreCase(base.getScheme()) || "http".equalsIgnoreCase(base.getScheme()))
                    || (base.getRawPath() != null && !base.getRawPath().isEmpty() && !base.getRawPath().equals("/"))
                    || base.getRawQuery() != null || base.getRawFragment() != null) {
                throw new IllegalArgumentException("The public base URI must look like https://host[:port], without a"
                        + " path: " + base + ".");
            }
            this.publicBaseUri = base;
            return this;
        }

        /** Builds the filter. */
        public M2mfaFilter build() {
            List<Route> sorted = new ArrayList<>(routes);
            sorted.sort(Comparator.comparingInt((Route r) -> r.prefix().length()).reversed());
            return new M2mfaFilter(verifier, Collections.unmodifiableList(sorted), publicBaseUri);
        }
    }
}
