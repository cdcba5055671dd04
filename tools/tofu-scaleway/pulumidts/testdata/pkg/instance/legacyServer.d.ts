import * as pulumi from "@pulumi/pulumi";
import * as inputs from "../types/input";
import * as outputs from "../types/output";
/**
 * Creates and manages a Scaleway Instance server.
 *
 * ## Example Usage
 */
export declare class InstanceServer extends pulumi.CustomResource {
    static get(name: string, id: pulumi.Input<pulumi.ID>, state?: InstanceServerState, opts?: pulumi.CustomResourceOptions): Server;
    static isInstance(obj: any): obj is Server;
    readonly image: pulumi.Output<string | undefined>;
    readonly name: pulumi.Output<string>;
    readonly privateNetworks: pulumi.Output<outputs.instance.ServerPrivateNetwork[] | undefined>;
    readonly publicIps: pulumi.Output<outputs.instance.ServerPublicIp[]>;
    readonly rootVolume: pulumi.Output<outputs.instance.ServerRootVolume>;
    readonly tags: pulumi.Output<string[] | undefined>;
    readonly type: pulumi.Output<string>;
    readonly userData: pulumi.Output<{
        [key: string]: string;
    }>;
    constructor(name: string, args: InstanceServerArgs, opts?: pulumi.CustomResourceOptions);
}
export interface InstanceServerState {
    image?: pulumi.Input<string | undefined>;
    name?: pulumi.Input<string | undefined>;
    /**
     * The private network associated with the server.
     */
    privateNetworks?: pulumi.Input<pulumi.Input<inputs.instance.ServerPrivateNetwork>[] | undefined>;
    publicIps?: pulumi.Input<pulumi.Input<inputs.instance.ServerPublicIp>[] | undefined>;
    rootVolume?: pulumi.Input<inputs.instance.ServerRootVolume | undefined>;
    tags?: pulumi.Input<pulumi.Input<string>[] | undefined>;
    type?: pulumi.Input<string | undefined>;
    /**
     * The user data associated with the server.
     * @deprecated use something else
     */
    userData?: pulumi.Input<{
        [key: string]: pulumi.Input<string>;
    } | undefined>;
}
export interface InstanceServerArgs {
    image?: pulumi.Input<string | undefined>;
    name?: pulumi.Input<string | undefined>;
    privateNetworks?: pulumi.Input<pulumi.Input<inputs.instance.ServerPrivateNetwork>[] | undefined>;
    rootVolume?: pulumi.Input<inputs.instance.ServerRootVolume | undefined>;
    tags?: pulumi.Input<pulumi.Input<string>[] | undefined>;
    type: pulumi.Input<string>;
    userData?: pulumi.Input<{
        [key: string]: pulumi.Input<string>;
    } | undefined>;
}
