// The pages are built as Runway's users build theirs; top-level await needs a modern target.
export default {
  base: "./",
  build: {
    target: "es2022",
    outDir: "dist",
    emptyOutDir: true,
    rollupOptions: { input: { core: "index.html", react: "react.html" } },
  },
};
