import * as pulumi from "@pulumi/pulumi";
import * as inputs from "../types/input";
import * as outputs from "../types/output";
export declare class Backend extends pulumi.CustomResource {
    readonly healthCheckTcp: pulumi.Output<outputs.loadbalancers.BackendHealthCheckTcp>;
    readonly lbId: pulumi.Output<string>;
    readonly serverIps: pulumi.Output<string[] | undefined>;
}
export interface BackendState {
    healthCheckTcp?: pulumi.Input<inputs.loadbalancers.BackendHealthCheckTcp | undefined>;
    lbId?: pulumi.Input<string | undefined>;
    serverIps?: pulumi.Input<pulumi.Input<string>[] | undefined>;
}
export interface BackendArgs {
    healthCheckTcp?: pulumi.Input<inputs.loadbalancers.BackendHealthCheckTcp | undefined>;
    lbId: pulumi.Input<string>;
    serverIps?: pulumi.Input<pulumi.Input<string>[] | undefined>;
}
