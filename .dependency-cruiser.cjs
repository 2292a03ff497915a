// Dependency rules of src/ (npm test runs `depcruise src`): the layers below
// the cascade know nothing of it, nothing in the engine knows the demo world
// or the evaluator, the typed client knows only the proto, and there are no
// import cycles.
/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      severity: 'error',
      comment: 'Import cycles make the load order matter and the layers meaningless.',
      from: {},
      to: { circular: true },
    },
    {
      name: 'foundations-know-no-cascade',
      severity: 'error',
      comment: 'The models, the bundle format, the native binding, the catalog and the user store know nothing of the cascade or the transport.',
      from: { path: '^src/(models|bundle|native|onnx|util|state|catalog)/' },
      to: { path: '^src/(pipeline|stages|scoring|api|metrics|cli|client)/|^src/main\\.ts' },
    },
    {
      name: 'cascade-knows-no-transport',
      severity: 'error',
      comment: 'The cascade (pipeline, stages, scoring) runs over a bundle: no gRPC, no client.',
      from: { path: '^src/(pipeline|stages|scoring)/' },
      to: { path: '^src/(api|cli|client)/|^src/main\\.ts' },
    },
    {
      name: 'client-knows-only-the-proto',
      severity: 'error',
      comment: 'The typed client (src/client) loads nothing of the engine: grpc-js, proto-loader, node built-ins, the proto (api/proto.ts) and its generated types.',
      from: { path: '^src/client/' },
      to: { dependencyTypesNot: ['core'], pathNot: '^src/client/|^src/api/proto\\.ts$|(^|/)node_modules/@grpc/(grpc-js|proto-loader)/' },
    },
    {
      name: 'src-knows-no-tools-tests-or-bench',
      severity: 'error',
      comment: 'The demo world, the evaluator and the demo-world entry (tools/) build on src/, never the other way.',
      from: { path: '^src/' },
      to: { path: '^(tools|test|bench)/' },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsConfig: { fileName: 'tsconfig.json' },
    tsPreCompilationDeps: true,
  },
};
