import type { NextConfig } from "next";

const nextConfig: NextConfig = {
  reactStrictMode: true,
  // A self-contained server in .next/standalone for the Docker image (frontend/Dockerfile);
  // `next start` serves the same build for `make web` and the end-to-end tests.
  output: "standalone",
  poweredByHeader: false,
  turbopack: {
    // Tailwind CSS v4 through its Turbopack loader (no PostCSS config needed).
    rules: {
      "*.css": {
        loaders: ["@tailwindcss/turbopack"],
        as: "*.css",
      },
    },
  },
};

export default nextConfig;
