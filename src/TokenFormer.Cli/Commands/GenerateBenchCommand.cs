using System.CommandLine;

namespace TokenFormer.Cli.Commands;

/// <summary><c>tokenformer generate</c> (being built; see its issue).</summary>
public static class GenerateBenchCommand
{
    public static Command Create()
    {
        var cmd = new Command("generate", "Decode and prefill speed of generation.");
        cmd.SetAction(new Func<ParseResult, int>(_ => throw new CliException("'generate' is not available yet")));
        return cmd;
    }
}
