// Command scaleway-schema-gen rebuilds the Terraform schema of the Scaleway provider from the
// TypeScript declarations of the @pulumiverse/scaleway npm package, which pulumi-terraform-bridge
// generated from that provider's schema. The result feeds the schema-only stand-in provider
// (cmd/terraform-provider-scaleway) that lets `tofu validate` and `tofu test` run offline.
//
//	npm pack @pulumiverse/scaleway@1.54.0 && tar xzf pulumiverse-scaleway-1.54.0.tgz
//	scaleway-schema-gen -package package -version 2.79.0 -out cmd/terraform-provider-scaleway/schema.json
//
// With -bridge-metadata FILE (pulumi-scaleway's provider/cmd/pulumi-resource-scaleway/
// bridge-metadata.json, the bridge's record of the name mapping) it also reports every
// resource and list field whose Terraform name it derived differently, and exits 1 if any.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"

	"github.com/ensemble-jitsi/ensemble/tools/tofu-scaleway/pulumidts"
)

func main() {
	dir := flag.String("package", "package", "unpacked npm package directory (holds package.json)")
	version := flag.String("version", "", "provider version the stand-in reports (the upstream version the package was built from)")
	out := flag.String("out", "", "schema JSON to write (default: standard output)")
	meta := flag.String("bridge-metadata", "", "optional bridge-metadata.json to check the name mapping against")
	flag.Parse()
	if err := run(*dir, *version, *out, *meta); err != nil {
		fmt.Fprintln(os.Stderr, "scaleway-schema-gen:", err)
		os.Exit(1)
	}
}

func run(dir, version, out, meta string) error {
	if version == "" {
		return fmt.Errorf("-version is required")
	}
	pkg, err := pulumidts.ReadPackage(dir)
	if err != nil {
		return err
	}
	schema, err := pkg.Schema(version)
	if err != nil {
		return err
	}
	if meta != "" {
		b, err := os.ReadFile(meta)
		if err != nil {
			return err
		}
		report, err := pulumidts.CheckBridgeMetadata(pkg, schema, b)
		if err != nil {
			return err
		}
		fmt.Fprintln(os.Stderr, report.Summary())
		for _, m := range report.Mismatches {
			fmt.Fprintln(os.Stderr, "  ", m)
		}
		if len(report.Mismatches) > 0 {
			return fmt.Errorf("%d names differ from the bridge metadata", len(report.Mismatches))
		}
	}
	b, err := json.MarshalIndent(schema, "", " ")
	if err != nil {
		return err
	}
	b = append(b, '\n')
	if out == "" {
		_, err = os.Stdout.Write(b)
		return err
	}
	return os.WriteFile(out, b, 0o644)
}
