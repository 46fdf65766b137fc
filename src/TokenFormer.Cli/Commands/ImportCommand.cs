using System.CommandLine;

namespace TokenFormer.Cli.Commands;

/// <summary><c>tokenformer import</c> (being built; see its issue).</summary>
public static class ImportCommand
{
    public static Command Create()
    {
        var cmd = new Command("import", "Import an officially released TokenFormer checkpoint (pytorch_model.bin) into a model directory.");
        cmd.SetAction(new Func<ParseResult, int>(_ => throw new CliException("'import' is not available yet")));
        return cmd;
    }
}
