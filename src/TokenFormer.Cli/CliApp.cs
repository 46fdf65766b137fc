using System.CommandLine;
using TokenFormer.Cli.Commands;
using TokenFormer.Core.Threading;

namespace TokenFormer.Cli;

/// <summary>The <c>tokenformer</c> command: builds the command tree and runs it.</summary>
public static class CliApp
{
    /// <summary>Global <c>--threads</c> option, valid on every verb.</summary>
    public static readonly Option<int?> ThreadsOption = new("--threads")
    {
        Description = $"Threads for compute kernels (default: all cores, or ${Parallelism.ThreadsEnvironmentVariable})",
        Recursive = true,
    };

    public static RootCommand Build()
    {
        var root = new RootCommand(
            "TokenFormer for .NET: define, train, grow, evaluate and sample TokenFormer language models on the CPU.");
        root.Options.Add(ThreadsOption);
        root.Subcommands.Add(SelfCheckCommand.Create());
        root.Subcommands.Add(BenchCommand.Create());
        TokenizerCommand.Register(root);
        root.Subcommands.Add(ForwardCommand.Create());
        root.Subcommands.Add(PresetsCommand.Create());
        root.Subcommands.Add(PrepareCommand.Create());
        root.Subcommands.Add(TrainCommand.Create());
        root.Subcommands.Add(EvalCommand.Create());
        root.Subcommands.Add(ImportCommand.Create());
        root.Subcommands.Add(QuantizeCommand.Create());
        root.Subcommands.Add(ExportCommand.Create());
        root.Subcommands.Add(GrowCommand.Create());
        root.Subcommands.Add(AdapterCommands.Finetune());
        root.Subcommands.Add(AdapterCommands.Merge());
        root.Subcommands.Add(GenerateCommand.Create());
        root.Subcommands.Add(ServeCommand.Create());
        root.Subcommands.Add(QuickstartCommand.Create());
        root.Subcommands.Add(ExperimentCommand.Create());
        root.Subcommands.Add(VisionCommand.Create());
        return root;
    }

    public static int Run(string[] args)
    {
        RootCommand root = Build();
        ParseResult parse = root.Parse(args);
        if (parse.Errors.Count == 0 && parse.GetValue(ThreadsOption) is int threads)
        {
            if (threads < 1)
            {
                Console.Error.WriteLine($"error: --threads must be at least 1 (got {threads})");
                return 2;
            }
            Parallelism.SetThreadCount(threads);
        }
        try
        {
            return parse.Invoke(new InvocationConfiguration { EnableDefaultExceptionHandler = false });
        }
        catch (CliException e)
        {
            Console.Error.WriteLine($"error: {e.Message}");
            return 1;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // file-system failures no command anticipated (a full disk, a folder made read-only or removed mid-run): one
            // line naming the file, as for bad input; the writers go through temporary files, so nothing half-written is
            // left under a final name
            Console.Error.WriteLine($"error: {e.Message}");
            return 1;
        }
    }
}

/// <summary>An expected failure (bad input, missing file) reported as one line without a stack trace.</summary>
public sealed class CliException(string message) : Exception(message);
