using TokenFormer.Bench;
using TokenFormer.Bench.OnnxRuntime;
using TokenFormer.Cli;

// The tokenformer command line with ONNX Runtime registered as a runtime of `bench generate --runtime onnxruntime`:
//   dotnet run -c Release --project bench/TokenFormer.Bench.OnnxRuntime -- bench generate --runtime onnxruntime --threads 2
// (every other command runs as in the tool). See docs/onnx.md and docs/benchmarks.md.
GenerationPeers.Register("onnxruntime", () => new OnnxRuntimePeer());
return CliApp.Run(args);
