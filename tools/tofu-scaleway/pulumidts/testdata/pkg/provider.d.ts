import * as pulumi from "@pulumi/pulumi";
export declare class Provider extends pulumi.ProviderResource {
    static isInstance(obj: any): obj is Provider;
    readonly zone: pulumi.Output<string | undefined>;
    constructor(name: string, args?: ProviderArgs, opts?: pulumi.ResourceOptions);
}
export interface ProviderArgs {
    /**
     * The Scaleway access key.
     */
    accessKey?: pulumi.Input<string | undefined>;
    secretKey?: pulumi.Input<string | undefined>;
    zone?: pulumi.Input<string | undefined>;
}
