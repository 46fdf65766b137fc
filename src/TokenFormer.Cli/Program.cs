using TokenFormer.Cli;

return CliApp.Run(args);
