using System.CommandLine;
using TokenFormer.Cli.Quickstart;

namespace TokenFormer.Cli.Commands;

/// <summary>
/// <c>tokenformer quickstart</c>: the whole product in one command — State of the Union corpus (npm, cached; the
/// project's own docs and sources without npm), BPE tokenizer, a small model trained, grown with function-preserving
/// growth and trained on, samples, and a run folder with curves and summary.md (<see cref="QuickstartRun"/>).
/// </summary>
public static class QuickstartCommand
{
    public static Command Create()
    {
        var output = new Option<string>("--out") { Description = "Run folder (replaced when it holds an earlier quickstart run)", DefaultValueFactory = _ => "quickstart-run" };
        var minutes = new Option<double>("--minutes") { Description = "Target wall time in minutes; training steps are planned to fit it", DefaultValueFactory = _ => 10 };
        var cache = new Option<string>("--cache") { Description = "Cache folder for the downloaded corpus", DefaultValueFactory = _ => QuickstartOptions.DefaultCacheDirectory() };
        var seed = new Option<int>("--seed") { Description = "Seed of initialisation, data order, growth and samples", DefaultValueFactory = _ => 1234 };
        var corpus = new Option<string?>("--corpus") { Description = "Train on this UTF-8 .txt file or folder of .txt files instead of the State of the Union" };
        var smallSteps = new Option<long?>("--small-steps") { Description = "Steps of the small model S (default: planned from a timing and --minutes)" };
        var largeSteps = new Option<long?>("--large-steps") { Description = "Steps of the grown model L (default: planned from a timing and --minutes)" };
        var smallDecay = new Option<double>("--small-decay")
        {
            Description = "Fraction of S's steps over which its learning rate decays before growth (default 0.2: L starts from a settled S " +
                "and its loss does not rise after growth; 0: S stays at its peak and L carries on at that rate, learning fastest after " +
                "a small transient rise; docs/growth.md)",
            DefaultValueFactory = _ => 0.2,
        };
        smallDecay.Validators.Add(r =>
        {
            double f = r.GetValueOrDefault<double>();
            if (!(f >= 0 && f <= 1)) r.AddError($"--small-decay must be a fraction between 0 and 1, got {f}");
        });
        var cmd = new Command("quickstart",
            "Obtain a corpus, train a tokenizer and a small TokenFormer, grow it (function-preserving), train on, print the losses " +
            "before and after growth and a few samples, and leave a run folder with curves and summary.md.")
        {
            output, minutes, cache, seed, corpus, smallSteps, largeSteps, smallDecay,
        };
        cmd.SetAction(parse =>
        {
            var options = new QuickstartOptions
            {
                OutputDirectory = parse.GetValue(output)!, Minutes = parse.GetValue(minutes), CacheDirectory = parse.GetValue(cache)!,
                Seed = parse.GetValue(seed), Corpus = parse.GetValue(corpus), SmallSteps = parse.GetValue(smallSteps), LargeSteps = parse.GetValue(largeSteps),
                SmallDecayFraction = parse.GetValue(smallDecay),
            };
            using var interrupt = new CtrlCInterrupt("stopping after this step");
            try
            {
                new QuickstartRun(options, Console.Out, interactive: !Console.IsOutputRedirected).Run(interrupt.Token);
            }
            catch (OperationCanceledException) { throw new CliException("quickstart interrupted"); }
            return 0;
        });
        return cmd;
    }
}
